"""Thread-safe named counters behind `AdaptiveLogging.stats()`."""

from __future__ import annotations

import threading
from collections import Counter

COUNTER_NAMES: tuple[str, ...] = (
    "seen",
    "kept",
    "dropped",
    "exported",
    "export_failed",
    "errors_spooled",
    "errors_resent",
    "errors_lost",
    "spool_corrupt",
    "shed",
    "shed_errors",
    "context_held",
    "context_flushed",
    "context_expired",
    "context_evicted",
    "policy_fetches",
    "policy_updates",
    "policy_not_modified",
    "policy_missing",
    "policy_errors",
    "policy_cache_errors",
    "stats_batches_sent",
    "stats_entries_sent",
    "stats_retries",
    "stats_overflow",
    "stats_dropped_entries",
    "internal_errors",
)


class Counters:
    def __init__(self) -> None:
        # Shared with the stats aggregator, so that a line is counted in both under one lock.
        self.lock = threading.Lock()
        self.values: Counter[str] = Counter()
        # Lines seen and kept, updated under `lock` for every line: a plain list is cheaper than the Counter.
        self.lines: list[int] = [0, 0]

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.values[name] += amount

    def add_line(self, *, kept: bool) -> None:
        """One line seen, and kept or dropped."""
        with self.lock:
            lines = self.lines
            lines[0] += 1
            if kept:
                lines[1] += 1

    def get(self, name: str) -> int:
        with self.lock:
            return self._read(name)

    def _read(self, name: str) -> int:
        seen, kept = self.lines
        if name == "seen":
            return seen
        if name == "kept":
            return kept
        if name == "dropped":
            return seen - kept
        return self.values[name]

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {name: self._read(name) for name in (*COUNTER_NAMES, *sorted(set(self.values) - set(COUNTER_NAMES)))}

    def reset_after_fork(self) -> None:
        self.lock = threading.Lock()
        self.values = Counter()
        self.lines = [0, 0]
