"""Mined patterns become the PatternStats the generator and checker read."""

from __future__ import annotations

from policies.engine.mining import mine_records
from policies.engine.simulator import ReplayLine


def _records() -> list[ReplayLine]:
    lines = [
        ReplayLine(message=f"User u{i} logged in from 10.0.0.{i % 9}", severity="INFO", timestamp=float(i))
        for i in range(40)
    ]
    lines += [ReplayLine(message=f"payment {i} failed", severity="ERROR", timestamp=100.0 + i) for i in range(5)]
    return lines


def test_every_line_is_counted_once() -> None:
    stats = mine_records(_records())
    assert sum(s.count for s in stats) == 45
    assert sum(s.bytes for s in stats) == sum(r.size for r in _records())


def test_stats_carry_severity_time_examples_and_signatures() -> None:
    failed = next(s for s in mine_records(_records()) if "failed" in s.template)
    assert failed.severity_counts == {"ERROR": 5}
    assert failed.error_count == 5
    assert (failed.first_seen, failed.last_seen) == (100.0, 104.0)
    assert failed.examples and all("failed" in e for e in failed.examples)
    assert failed.signatures and failed.variants >= 1


def test_pattern_ids_are_stable_across_runs() -> None:
    assert [s.id for s in mine_records(_records())] == [s.id for s in mine_records(_records())]
