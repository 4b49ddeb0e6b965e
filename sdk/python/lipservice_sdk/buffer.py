"""Error context: dropped lines held briefly per trace, released when an error follows in the same trace."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Generic, TypeVar

from lipservice_sdk.counters import Counters

T = TypeVar("T")
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class ErrorContextBuffer(Generic[T]):
    """Bounded four ways: lines per trace, seconds a line is held, and a global cap in lines and in bytes (the
    least recently active trace loses its oldest line first).

    Lines that age out are counted as `context_expired`; lines pushed out by a bound as `context_evicted`.
    """

    def __init__(
        self,
        *,
        counters: Counters,
        lines_per_trace: int,
        seconds: float,
        max_lines: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._counters = counters
        self.lines_per_trace = lines_per_trace
        self.seconds = seconds
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, deque[tuple[float, int, T]]] = OrderedDict()
        self._size = 0
        self._bytes = 0

    def configure(self, *, lines_per_trace: int, seconds: float) -> None:
        with self._lock:
            self.lines_per_trace, self.seconds = lines_per_trace, seconds

    def __len__(self) -> int:
        return self._size

    @property
    def bytes(self) -> int:
        return self._bytes

    def hold(self, trace_id: str, item: T, now: float, size: int = 0) -> None:
        with self._lock:
            self._expire(now)
            if self.lines_per_trace <= 0 or self.seconds <= 0 or self.max_lines <= 0 or size > self.max_bytes:
                self._counters.add("context_evicted")
                return
            lines = self._traces.get(trace_id)
            if lines is None:
                lines = self._traces[trace_id] = deque()
            else:
                self._traces.move_to_end(trace_id)
            lines.append((now, size, item))
            self._size += 1
            self._bytes += size
            self._counters.add("context_held")
            if len(lines) > self.lines_per_trace:
                self._drop_oldest(lines)
            while self._size > self.max_lines or self._bytes > self.max_bytes:
                oldest_trace, oldest = next(iter(self._traces.items()))
                self._drop_oldest(oldest)
                if not oldest:
                    del self._traces[oldest_trace]

    def release(self, trace_id: str, now: float) -> list[T]:
        """The held lines of this trace that are still fresh, oldest first; the trace is forgotten."""
        with self._lock:
            lines = self._traces.pop(trace_id, None)
            if not lines:
                self._expire(now)
                return []
            self._size -= len(lines)
            self._bytes -= sum(size for _, size, _ in lines)
            fresh = [item for at, _, item in lines if now - at <= self.seconds]
            if len(fresh) < len(lines):
                self._counters.add("context_expired", len(lines) - len(fresh))
            self._expire(now)
            return fresh

    def expire(self, now: float) -> None:
        with self._lock:
            self._expire(now)

    def clear(self) -> int:
        with self._lock:
            dropped = self._size
            self._traces.clear()
            self._size = self._bytes = 0
            return dropped

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._traces = OrderedDict()
        self._size = self._bytes = 0

    def _drop_oldest(self, lines: deque[tuple[float, int, T]]) -> None:
        _, size, _ = lines.popleft()
        self._size -= 1
        self._bytes -= size
        self._counters.add("context_evicted")

    def _expire(self, now: float) -> None:
        # Traces are ordered by their last line, so the oldest sit at the front.
        while self._traces:
            trace_id, lines = next(iter(self._traces.items()))
            while lines and now - lines[0][0] > self.seconds:
                _, size, _ = lines.popleft()
                self._size -= 1
                self._bytes -= size
                self._counters.add("context_expired")
            if lines:
                return
            del self._traces[trace_id]
