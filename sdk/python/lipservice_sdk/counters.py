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
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def add_line(self, *, kept: bool) -> None:
        """seen, and kept or dropped, under one lock (this runs for every line)."""
        with self._lock:
            values = self._values
            values["seen"] += 1
            values["kept" if kept else "dropped"] += 1

    def get(self, name: str) -> int:
        with self._lock:
            return self._values[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                name: self._values[name] for name in (*COUNTER_NAMES, *sorted(set(self._values) - set(COUNTER_NAMES)))
            }

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._values = Counter()
