"""The simulator replays records through the one decision and reports lines, bytes, errors, patterns and dollars."""

from __future__ import annotations

import pytest
from lipservice_sdk.decision import Decision
from lipservice_sdk.policy import ErrorContext, KeepRules, PatternRule, PolicyDocument

from policies.engine.pricing import flat_pricing
from policies.engine.simulator import ReplayLine, simulate
from tests.policies.engine.factories import records

POLICY = PolicyDocument(
    service="api",
    severity_rates={"INFO": 0.5},
    patterns=(
        PatternRule(id="tick", template="tick <*>", rate=0.1),
        PatternRule(id="order", template="order <*> placed", rate=1.0),
    ),
    keep=KeepRules(first_per_pattern=True, window_seconds=0),
)


def _lines() -> list[ReplayLine]:
    return (
        records("tick {i}", 1000)
        + records("order {i} placed", 50, start=1000)
        + records("disk {i} failed", 20, severity="ERROR", start=1050)
    )


def test_report_adds_up() -> None:
    report = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(0.5), seed=7)
    assert report.lines_total == 1070
    assert report.bytes_total == 107_000
    assert sum(e.lines for e in report.per_pattern) == report.lines_total
    assert sum(e.kept for e in report.per_pattern) == report.lines_kept
    assert sum(e.bytes_kept for e in report.per_pattern) == report.bytes_kept
    assert report.reduction_lines == pytest.approx(1 - report.lines_kept / 1070)


def test_every_error_is_kept() -> None:
    report = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(0.5))
    assert (report.errors_kept, report.errors_total) == (20, 20)


def test_every_pattern_is_covered() -> None:
    report = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(0.5))
    assert report.patterns_covered == report.patterns_total == 3


def test_per_pattern_effect_follows_the_rate() -> None:
    report = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(0.5), seed=1)
    effects = {e.pattern_id: e for e in report.per_pattern}
    assert effects["order"].kept == 50
    assert 60 < effects["tick"].kept < 150
    assert effects["tick"].rate == 0.1


def test_dollars_follow_bytes_and_price() -> None:
    report = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(2.0))
    assert report.dollars_before == pytest.approx(107_000 / 1e9 * 2.0)
    assert report.dollars_after == pytest.approx(report.bytes_kept / 1e9 * 2.0)


def test_monthly_projection_uses_the_time_span() -> None:
    day = [ReplayLine(message=f"tick {i}", timestamp=i * 864.0, bytes=1000) for i in range(101)]
    report = simulate(policy=POLICY, records=day, pricing=flat_pricing(1.0))
    assert report.observed_seconds == pytest.approx(86_400.0)
    assert report.as_dict()["dollars_per_month_before"] == pytest.approx(101_000 / 1e9 * 30)


def test_every_decision_is_reported() -> None:
    seen: list[tuple[int, Decision]] = []
    simulate(
        policy=POLICY, records=_lines(), pricing=flat_pricing(1.0), on_decision=lambda r, d: seen.append((r.line_id, d))
    )
    assert [line_id for line_id, _ in seen] == list(range(1070))


def test_a_trace_is_kept_or_dropped_whole() -> None:
    lines = [
        ReplayLine(message=f"tick {step}", trace_id=f"{trace:032x}", line_id=trace * 10 + step)
        for trace in range(1, 300)
        for step in range(3)
    ]
    kept: dict[str, set[bool]] = {}
    simulate(
        policy=POLICY,
        records=lines,
        pricing=flat_pricing(1.0),
        on_decision=lambda r, d: kept.setdefault(str(r.trace_id), set()).add(d.keep),
    )
    mixed = {trace for trace, outcomes in kept.items() if len(outcomes) > 1}
    # Only the first trace may be split: its first line is the pattern's first in the window.
    assert mixed <= {f"{1:032x}"}
    assert {True, False} <= {outcome for outcomes in kept.values() for outcome in outcomes}


def test_replay_is_reproducible_for_a_seed() -> None:
    first = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(1.0), seed=5)
    second = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(1.0), seed=5)
    assert first == second


def test_error_context_keeps_the_dropped_lines_of_a_failing_trace() -> None:
    policy = PolicyDocument(
        service="api",
        patterns=(PatternRule(id="step", template="step <*>", rate=0.0),),
        keep=KeepRules(first_per_pattern=True, window_seconds=0),
        error_context=ErrorContext(enabled=True, lines_per_trace=10, seconds=30.0),
    )
    lines = [
        ReplayLine(message="step 0", trace_id="t0", timestamp=0.0, line_id=0),
        ReplayLine(message="step 1", trace_id="t1", timestamp=1.0, line_id=1),
        ReplayLine(message="step 2", trace_id="t1", timestamp=2.0, line_id=2),
        ReplayLine(message="step 3", trace_id="t2", timestamp=3.0, line_id=3),
        ReplayLine(message="boom", severity="ERROR", trace_id="t1", timestamp=4.0, line_id=4),
        ReplayLine(message="step 5", trace_id="t1", timestamp=5.0, line_id=5),
        ReplayLine(message="step 6", trace_id="t3", timestamp=6.0, line_id=6),
        ReplayLine(message="late boom", severity="ERROR", trace_id="t3", timestamp=60.0, line_id=7),
    ]
    seen: dict[int, Decision] = {}
    report = simulate(
        policy=policy, records=lines, pricing=flat_pricing(1.0), on_decision=lambda r, d: seen.update({r.line_id: d})
    )
    assert [seen[i].keep for i in range(8)] == [True, True, True, False, True, False, False, True]
    assert (seen[1].reason, seen[2].reason) == ("error_context", "error_context")
    assert report.lines_kept == 5


def test_a_missed_target_names_what_kept_the_bytes_largest_first() -> None:
    report = simulate(policy=POLICY, records=_lines(), pricing=flat_pricing(1.0), target_reduction=0.99)
    check = report.target_check()
    assert check is not None and check["met"] is False
    causes = [c["cause"] for c in check["causes"]]
    assert {"protected_pattern", "errors", "first_in_window", "sampled"} <= set(causes)
    assert [c["bytes"] for c in check["causes"]] == sorted((c["bytes"] for c in check["causes"]), reverse=True)
    assert "MISSED" in report.verdict()
    assert report.as_dict()["target"] == check


def test_no_target_no_verdict_and_coverage_is_counted_per_key() -> None:
    sparse = PolicyDocument(
        service="api",
        patterns=(PatternRule(id="tick", template="tick <*>", rate=0.0001),),
        keep=KeepRules(first_per_pattern=False, first_per_signature=False, window_seconds=0),
    )
    lines = records("tick {i}", 100) + records("tock {i}", 5, start=100)
    report = simulate(policy=sparse, records=lines, pricing=flat_pricing(1.0), seed=1)
    assert report.target_check() is None and report.verdict() == ""
    assert report.keys_total == 2
    assert "tick" in report.coverage_lost
