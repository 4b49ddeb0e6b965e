"""Per-pattern, per-minute counts (seen, kept, bytes) and the background thread that posts them to LipService."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lipservice_sdk._fork import Worker
from lipservice_sdk.client import LipServiceClient
from lipservice_sdk.counters import Counters

_log = logging.getLogger("lipservice_sdk")
OVERFLOW_PATTERN = "lipservice:overflow"
MAX_BATCH_ENTRIES = 1000
# Kept lines that did not reach PostHog, reported with the stats (as `losses`) under these counter names.
LOSS_COUNTERS: tuple[str, ...] = ("errors_lost", "shed_errors", "export_failed", "shed", "spool_corrupt")


def minute_of(timestamp: float) -> int:
    return int(timestamp // 60) * 60


def message_size(message: str) -> int:
    """A message's size in UTF-8 bytes, without encoding the usual ASCII line."""
    return len(message) if message.isascii() else len(message.encode("utf-8", "replace"))


def minute_label(minute: int) -> str:
    return datetime.fromtimestamp(minute, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatsAggregator:
    """Counts per (pattern, minute). Bounded: past max_keys, new keys fold into one overflow pattern per minute."""

    def __init__(self, *, max_keys: int = 20_000, counters: Counters | None = None, per_pattern: bool = True) -> None:
        self._max_keys = max_keys
        self._counters = counters if counters is not None else Counters()
        self._per_pattern = per_pattern  # False: only the process counters (nothing reports the rows)
        self._lock = self._counters.lock
        self._counts: dict[tuple[str, int], list[int]] = {}

    def add_line(self, pattern: str, timestamp: float, kept: bool, message: str) -> None:
        """One line: the process counters (seen, kept or dropped) and its (pattern, minute) row, under one lock."""
        if not self._per_pattern:
            self._counters.add_line(kept=kept)
            return
        # message_size and minute_of, inline: this runs for every line
        size = len(message) if message.isascii() else len(message.encode("utf-8", "replace"))
        key = (pattern, int(timestamp // 60) * 60)
        with self._lock:
            lines = self._counters.lines
            lines[0] += 1
            row = self._counts.get(key)
            if row is None:
                row = self._new_row(key)
            row[0] += 1
            row[2] += size
            if kept:
                lines[1] += 1
                row[1] += 1
                row[3] += size

    def _new_row(self, key: tuple[str, int]) -> list[int]:
        """Under the lock: a row for `key`, or past max_keys the minute's overflow row."""
        if len(self._counts) >= self._max_keys:
            key = (OVERFLOW_PATTERN, key[1])
            self._counters.values["stats_overflow"] += 1
            row = self._counts.get(key)
            if row is not None:
                return row
        row = self._counts[key] = [0, 0, 0, 0]
        return row

    def add(self, pattern: str, timestamp: float, *, seen: int, kept: int, size: int) -> None:
        """Lines already counted in the process counters (held lines sent after all) added to a row."""
        if not self._per_pattern:
            return
        key = (pattern, minute_of(timestamp))
        with self._lock:
            row = self._counts.get(key)
            if row is None:
                row = self._new_row(key)
            row[0] += seen
            row[1] += kept
            row[2] += size * seen
            row[3] += size * kept

    def drain(self) -> list[dict[str, Any]]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return [
            {"pattern": pattern, "minute": minute_label(minute), "seen": row[0], "kept": row[1],
             "bytes_seen": row[2], "bytes_kept": row[3]}
            for (pattern, minute), row in sorted(counts.items(), key=lambda item: (item[0][1], item[0][0]))
        ]  # fmt: skip

    def reset_after_fork(self) -> None:
        """In a forked child, after the counters' own reset (their new lock is shared again)."""
        self._lock = self._counters.lock
        self._counts = {}


@dataclass
class StatsBatch:
    entries: list[dict[str, Any]]
    batch_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    losses: dict[str, int] = field(default_factory=dict)
    # An attempt without an answer, or with a 5xx, may have been stored all the same.
    maybe_stored: bool = False


class StatsReporter:
    """Drains the aggregator every interval into batches of at most 1000 entries and posts them, oldest first.

    A batch keeps its batch_id through every retry (the server is idempotent by batch_id); 429 and 503 wait for
    Retry-After, other 5xx and network errors back off exponentially; 413 splits a batch in two; pending entries are
    bounded and the oldest batches go first when the bound is hit.

    The delivery losses counted since the previous drain ride on the first batch of a drain (a batch of no entries
    when nothing else waits), so a retried batch reports them once; a batch given up on that cannot have been stored
    hands its losses back, and a later drain reports them again.
    """

    def __init__(
        self,
        *,
        client: LipServiceClient,
        aggregator: StatsAggregator,
        counters: Counters,
        service: str,
        sdk: dict[str, str],
        interval: float = 30.0,
        max_pending_entries: int = 50_000,
        max_attempts: int = 10,
        backoff_base: float = 1.0,
        backoff_cap: float = 120.0,
    ) -> None:
        self._client = client
        self._aggregator = aggregator
        self._counters = counters
        self._service = service
        self._sdk = sdk
        self.interval = max(0.05, interval)
        self._max_pending = max_pending_entries
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._pending: deque[StatsBatch] = deque()
        self._pending_entries = 0
        self._losses_taken: dict[str, int] = dict.fromkeys(LOSS_COUNTERS, 0)
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self.worker = Worker("lipservice-stats", self._loop)

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float) -> bool:
        """Stop the thread after a final drain and one last attempt per pending batch within the timeout."""
        deadline = time.monotonic() + timeout
        self.worker.stop_event.set()
        self._wake.set()
        stopped = self.worker.stop(timeout)
        if not stopped:
            return False
        self.flush(deadline - time.monotonic(), final=True)
        return True

    def after_fork_in_child(self) -> None:
        # The parent reports what it counted; the child starts from nothing.
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._pending = deque()
        self._pending_entries = 0
        self._losses_taken = dict.fromkeys(LOSS_COUNTERS, 0)
        self._retry_at = 0.0
        self._wake = threading.Event()
        self.worker.restart_in_child()

    def pending_batches(self) -> list[StatsBatch]:
        with self._lock:
            return list(self._pending)

    def _loop(self, stop: threading.Event) -> None:
        next_drain = time.monotonic() + self.interval
        while True:
            now = time.monotonic()
            wake = next_drain
            with self._lock:
                if self._pending:
                    wake = min(wake, max(self._retry_at, now))
            self._wake.wait(max(0.0, wake - now))
            self._wake.clear()
            if stop.is_set():
                return
            if time.monotonic() >= next_drain:
                self.collect()
                next_drain = time.monotonic() + self.interval
            self.send(deadline=None)

    def collect(self) -> None:
        """Move the aggregator's counts, and the delivery losses not yet reported, into pending batches."""
        entries = self._aggregator.drain()
        with self._lock:
            idle = not self._pending
        # Losses alone wait while other batches do, so that an outage of LipService piles up no empty batches.
        losses = self._take_losses() if entries or idle else {}
        chunks = [entries[start : start + MAX_BATCH_ENTRIES] for start in range(0, len(entries), MAX_BATCH_ENTRIES)]
        if losses and not chunks:
            chunks = [[]]
        for index, chunk in enumerate(chunks):
            self._enqueue(StatsBatch(chunk, losses=losses if index == 0 else {}))

    def _take_losses(self) -> dict[str, int]:
        """The loss counters' growth since the last take (only those that grew)."""
        current = {name: self._counters.get(name) for name in LOSS_COUNTERS}
        with self._lock:
            taken = self._losses_taken
            grown = {name: current[name] - taken[name] for name in LOSS_COUNTERS if current[name] > taken[name]}
            taken.update({name: current[name] for name in grown})
        return grown

    def _give_back(self, batch: StatsBatch) -> None:
        """Under the lock: a batch given up on returns its losses for a later drain, unless it may have been stored."""
        if batch.maybe_stored:
            return
        for name, amount in batch.losses.items():
            self._losses_taken[name] -= amount

    def _enqueue(self, batch: StatsBatch, *, front: bool = False) -> None:
        with self._lock:
            if front:
                self._pending.appendleft(batch)
            else:
                self._pending.append(batch)
            self._pending_entries += len(batch.entries)
            while self._pending_entries > self._max_pending and len(self._pending) > 1:
                oldest = self._pending.popleft()
                self._pending_entries -= len(oldest.entries)
                self._counters.add("stats_dropped_entries", len(oldest.entries))
                self._give_back(oldest)

    def _pop(self) -> StatsBatch | None:
        with self._lock:
            if not self._pending:
                return None
            batch = self._pending.popleft()
            self._pending_entries -= len(batch.entries)
            return batch

    def flush(self, timeout: float, *, final: bool = False) -> bool:
        """Drain now and try each pending batch once (the final flush ignores backoff); True when nothing is left."""
        self.collect()
        self.send(deadline=time.monotonic() + max(0.0, timeout), ignore_backoff=final)
        with self._lock:
            return not self._pending

    def send(self, *, deadline: float | None, ignore_backoff: bool = False) -> None:
        with self._send_lock:
            if not ignore_backoff and time.monotonic() < self._retry_at:
                return
            tried: set[str] = set()
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                batch = self._pop()
                if batch is None:
                    return
                if batch.batch_id in tried:  # one attempt per batch per flush
                    self._enqueue(batch, front=True)
                    return
                tried.add(batch.batch_id)
                timeout = None if deadline is None else deadline - time.monotonic()
                if not self._post(batch, timeout):
                    return

    def _post(self, batch: StatsBatch, timeout: float | None) -> bool:
        """Post one batch; False when sending should pause (the batch is back at the front of the queue)."""
        payload: dict[str, Any] = {
            "batch_id": batch.batch_id,
            "service": self._service,
            "sdk": self._sdk,
            "stats": batch.entries,
        }
        if batch.losses:
            payload["losses"] = batch.losses
        result = self._client.post_stats(payload, timeout=timeout)
        batch.attempts += 1
        batch.maybe_stored = batch.maybe_stored or result.status == 0 or result.status >= 500
        if 200 <= result.status < 300:
            self._counters.add("stats_batches_sent")
            self._counters.add("stats_entries_sent", len(batch.entries))
            self._retry_at = 0.0
            return True
        if result.status == 413 and len(batch.entries) > 1:
            half = len(batch.entries) // 2
            self._enqueue(StatsBatch(batch.entries[half:]), front=True)
            self._enqueue(StatsBatch(batch.entries[:half], losses=batch.losses), front=True)
            return True
        retryable = result.status in (0, 408, 429) or result.status >= 500
        if not retryable or batch.attempts >= self._max_attempts:
            _log.debug("lipservice: dropping stats batch %s after HTTP %s", batch.batch_id, result.status)
            self._counters.add("stats_dropped_entries", len(batch.entries))
            with self._lock:
                self._give_back(batch)
            return True
        self._counters.add("stats_retries")
        delay = result.retry_after if result.status in (429, 503) else None
        if delay is None:
            delay = min(self._backoff_cap, self._backoff_base * 2 ** (batch.attempts - 1)) * random.uniform(0.5, 1.0)
        self._retry_at = time.monotonic() + delay
        self._enqueue(batch, front=True)
        self._wake.set()  # a retry scheduled by flush() on another thread must not wait for the next drain
        return False
