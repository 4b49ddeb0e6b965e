"""The error-context buffer: per-trace, per-line-age and global bounds, each loss counted."""

from __future__ import annotations

from lipservice_sdk.buffer import ErrorContextBuffer
from lipservice_sdk.counters import Counters


def _buffer(**overrides: float) -> tuple[ErrorContextBuffer[str], Counters]:
    counters = Counters()
    settings = {"lines_per_trace": 3, "seconds": 10.0, "max_lines": 5, "max_bytes": 10_000} | overrides
    buffer: ErrorContextBuffer[str] = ErrorContextBuffer(
        counters=counters,
        lines_per_trace=int(settings["lines_per_trace"]),
        seconds=settings["seconds"],
        max_lines=int(settings["max_lines"]),
        max_bytes=int(settings["max_bytes"]),
    )
    return buffer, counters


def test_release_returns_the_trace_lines_oldest_first_and_forgets_them() -> None:
    buffer, _ = _buffer()
    buffer.hold("t1", "a", 0.0)
    buffer.hold("t2", "x", 0.5)
    buffer.hold("t1", "b", 1.0)
    assert buffer.release("t1", 2.0) == ["a", "b"]
    assert buffer.release("t1", 2.0) == []
    assert len(buffer) == 1


def test_lines_per_trace_keeps_the_newest() -> None:
    buffer, counters = _buffer()
    for i in range(5):
        buffer.hold("t", f"line {i}", float(i))
    assert buffer.release("t", 5.0) == ["line 2", "line 3", "line 4"]
    assert counters.get("context_evicted") == 2


def test_the_global_cap_evicts_the_least_recent_trace_first() -> None:
    buffer, counters = _buffer(max_lines=4)
    buffer.hold("old", "o1", 0.0)
    buffer.hold("old", "o2", 0.1)
    buffer.hold("new", "n1", 0.2)
    buffer.hold("new", "n2", 0.3)
    buffer.hold("new", "n3", 0.4)
    assert len(buffer) == 4
    assert buffer.release("old", 1.0) == ["o2"]
    assert counters.get("context_evicted") == 1


def test_stale_lines_expire_and_are_counted() -> None:
    buffer, counters = _buffer(seconds=1.0)
    buffer.hold("t1", "stale", 0.0)
    buffer.hold("t2", "stale too", 0.2)
    buffer.hold("t2", "fresh", 1.5)
    assert buffer.release("t2", 2.0) == ["fresh"]
    buffer.expire(2.0)
    assert len(buffer) == 0
    assert counters.get("context_expired") == 2


def test_out_of_order_times_cannot_wedge_expiry() -> None:
    buffer, _ = _buffer(seconds=1.0)
    buffer.hold("t", "late clock", 5.0)
    buffer.hold("t", "early clock", 1.0)
    buffer.expire(5.5)
    assert len(buffer) == 2


def test_a_zero_sized_buffer_holds_nothing() -> None:
    buffer, counters = _buffer(lines_per_trace=0)
    buffer.hold("t", "line", 0.0)
    assert len(buffer) == 0 and counters.get("context_evicted") == 1


def test_the_byte_cap_evicts_oldest_lines_and_refuses_oversized_ones() -> None:
    buffer, counters = _buffer(lines_per_trace=10, max_lines=100, max_bytes=1000)
    for i in range(4):
        buffer.hold("t", f"line {i}", float(i), size=300)
    assert (len(buffer), buffer.bytes) == (3, 900)
    buffer.hold("t", "huge", 5.0, size=5000)
    assert buffer.release("t", 6.0) == ["line 1", "line 2", "line 3"]
    assert (counters.get("context_evicted"), buffer.bytes) == (2, 0)
