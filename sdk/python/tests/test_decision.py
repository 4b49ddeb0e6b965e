"""The decision procedure: errors and first lines always kept, rates by precedence, trace consistency, boost."""

from __future__ import annotations

import random
from typing import Any

import pytest
from lipservice_sdk.decision import (
    ATTRIBUTE,
    DEFAULT_RATE,
    FIRST_IN_WINDOW,
    NO_POLICY,
    PATTERN_RATE,
    SEVERITY,
    SEVERITY_RATE,
    UNMATCHED_PREFIX,
    Decider,
    Decision,
    ErrorContextBuffer,
    trace_unit,
)
from lipservice_sdk.policy import AnomalyBoost, ErrorContext, KeepRules, PatternRule, PolicyDocument
from lipservice_sdk.signature import signature

HEALTH = PatternRule(id="health", template="GET /health <*> ms", signatures=(signature("GET /health 12 ms"),), rate=0.1)
LOGIN = PatternRule(id="login", template="User <*> logged in", rate=0.5)


def _policy(**overrides: Any) -> PolicyDocument:
    values: dict[str, Any] = {
        "service": "api",
        "severity_rates": {"DEBUG": 0.0, "INFO": 0.2},
        "patterns": (HEALTH, LOGIN),
        "default_rate": 0.7,
        "keep": KeepRules(first_per_pattern=False, window_seconds=60, first_per_signature=False),
        "anomaly_boost": AnomalyBoost(enabled=False),
    }
    values.update(overrides)
    return PolicyDocument(**values)


def _decider(policy: PolicyDocument | None, seed: int = 1) -> Decider:
    return Decider(policy, rng=random.Random(seed), clock=lambda: 0.0)


def test_without_policy_everything_is_kept() -> None:
    decision = _decider(None).decide(message="anything at all", severity="DEBUG")
    assert (decision.keep, decision.rate, decision.reason) == (True, 1.0, NO_POLICY)


@pytest.mark.parametrize("severity", ["ERROR", "error", "E", "SEVERE", "FATAL", "critical", 17, 23])
def test_errors_are_kept_even_when_every_rate_is_zero(severity: str | int) -> None:
    policy = _policy(
        patterns=(PatternRule(id="health", template="GET /health <*> ms", rate=0.0),),
        severity_rates={name: 0.0 for name in ("TRACE", "DEBUG", "INFO", "WARN")},
        default_rate=0.0,
    )
    decider = _decider(policy)
    decisions = [decider.decide(message="GET /health 12 ms", severity=severity) for _ in range(50)]
    assert all(d.keep and d.reason == SEVERITY and d.rate == 1.0 for d in decisions)


@pytest.mark.parametrize(
    ("message", "severity", "rate", "reason", "pattern_id"),
    [
        ("GET /health 12 ms", "INFO", 0.1, PATTERN_RATE, "health"),
        ("User alice logged in", "DEBUG", 0.5, PATTERN_RATE, "login"),
        ("cache warmed", "INFO", 0.2, SEVERITY_RATE, None),
        ("cache warmed", "DEBUG", 0.0, SEVERITY_RATE, None),
        ("cache warmed", "WARN", 0.7, DEFAULT_RATE, None),
    ],
)
def test_rate_is_pattern_then_severity_then_default(
    message: str, severity: str, rate: float, reason: str, pattern_id: str | None
) -> None:
    decision = _decider(_policy()).decide(message=message, severity=severity)
    assert (decision.rate, decision.reason) == (rate, reason)
    assert decision.pattern_id == (pattern_id or UNMATCHED_PREFIX + signature(message))


def test_pattern_found_by_template_when_signature_is_unknown() -> None:
    decision = _decider(_policy()).decide(message="User bob logged in", severity="INFO")
    assert decision.pattern_id == "login"


def test_most_specific_template_wins_over_catch_all() -> None:
    catch_all = PatternRule(id="any", template="<*> <*> <*> <*>", rate=0.9)
    decision = _decider(_policy(patterns=(catch_all, LOGIN))).decide(message="User bob logged in")
    assert decision.pattern_id == "login"


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.8])
def test_share_kept_follows_the_rate(rate: float) -> None:
    policy = _policy(patterns=(PatternRule(id="p", template="tick <*>", rate=rate),))
    decider = _decider(policy)
    kept = sum(decider.decide(message=f"tick {i}").keep for i in range(20_000))
    assert abs(kept / 20_000 - rate) < 0.02


def test_first_line_of_each_pattern_per_window_is_kept() -> None:
    policy = _policy(
        patterns=(PatternRule(id="p", template="tick <*>", rate=0.0),),
        keep=KeepRules(first_per_pattern=True, window_seconds=60, first_per_signature=False),
    )
    decider = _decider(policy)
    # 100 arrives late, after a line of the next window: it is not a first, nor does it make 130 one again.
    times = (0, 10, 59, 60, 61, 125, 100, 130)
    reasons = [decider.decide(message=f"tick {t}", timestamp=t).reason for t in times]
    kept = [decider.decide(message=f"tick {t}", timestamp=t).keep for t in (200, 201)]
    assert reasons == [FIRST_IN_WINDOW, PATTERN_RATE, PATTERN_RATE, FIRST_IN_WINDOW, PATTERN_RATE, FIRST_IN_WINDOW,
                       PATTERN_RATE, PATTERN_RATE]  # fmt: skip
    assert kept == [True, False]


def test_zero_window_means_one_window_for_all_time() -> None:
    policy = _policy(
        patterns=(PatternRule(id="p", template="tick <*>", rate=0.0),),
        keep=KeepRules(first_per_pattern=True, window_seconds=0, first_per_signature=False),
    )
    decider = _decider(policy)
    kept = [decider.decide(message=f"tick {t}", timestamp=t * 10_000.0).keep for t in range(5)]
    assert kept == [True, False, False, False, False]


def test_first_line_of_each_signature_is_kept_when_a_pattern_merges_kinds() -> None:
    merged = PatternRule(id="moves", template="task moved from <*> to <*>", rate=0.0)
    policy = _policy(patterns=(merged,), keep=KeepRules(first_per_pattern=True, window_seconds=0))
    decider = _decider(policy)
    messages = ["task moved from NEW to RUNNING", "task moved from NEW to RUNNING", "task moved from RUNNING to DONE"]
    decisions = [decider.decide(message=m) for m in messages]
    assert [d.keep for d in decisions] == [True, False, True]
    assert {d.pattern_id for d in decisions} == {"moves"}


def test_attribute_predicate_keeps_server_errors() -> None:
    policy = _policy(severity_rates={"INFO": 0.0}, patterns=())
    decider = _decider(policy)
    failed = decider.decide(message="request done", attributes={"http.status_code": 503})
    ok = decider.decide(message="request done", attributes={"http.status_code": 200})
    assert (failed.keep, failed.reason, ok.keep) == (True, ATTRIBUTE, False)


def test_same_trace_gets_the_same_decision_in_every_process() -> None:
    policy = _policy(patterns=(PatternRule(id="p", template="step <*>", rate=0.5),))
    traces = [f"{i:032x}" for i in range(1, 400)]
    first = [_decider(policy, seed=1).decide(message="step 1", trace_id=t).keep for t in traces]
    second = [_decider(policy, seed=99).decide(message="step 2", trace_id=t).keep for t in traces]
    assert first == second
    assert 0.35 < sum(first) / len(first) < 0.65


def test_kept_trace_keeps_every_pattern_with_a_higher_rate() -> None:
    rare = PatternRule(id="rare", template="checkout <*>", rate=0.1)
    common = PatternRule(id="common", template="render <*>", rate=0.6)
    decider = _decider(_policy(patterns=(rare, common)))
    for i in range(1, 2000):
        trace = f"{i:032x}"
        if decider.decide(message="checkout 1", trace_id=trace).keep:
            assert decider.decide(message="render 1", trace_id=trace).keep


def test_trace_consistency_off_ignores_the_trace() -> None:
    policy = _policy(patterns=(PatternRule(id="p", template="step <*>", rate=0.5),), trace_consistent=False)
    decider = _decider(policy)
    kept = {decider.decide(message="step 1", trace_id="abc").keep for _ in range(100)}
    assert kept == {True, False}


@pytest.mark.parametrize("trace_id", [None, "", "00000000000000000000000000000000", "   "])
def test_missing_trace_ids_have_no_hash(trace_id: str | None) -> None:
    assert trace_unit(trace_id) is None


def test_trace_unit_is_uniform_in_unit_interval() -> None:
    units = [trace_unit(f"{i:032x}") for i in range(1, 5001)]
    assert all(u is not None and 0.0 <= u < 1.0 for u in units)
    below = sum(1 for u in units if u is not None and u < 0.25)
    assert 1100 < below < 1400


def _boosting(rate: float, factor: float = 10.0, threshold: float = 3.0) -> Decider:
    policy = _policy(
        patterns=(PatternRule(id="p", template="tick <*>", rate=rate),),
        anomaly_boost=AnomalyBoost(enabled=True, factor=factor, threshold=threshold, duration_seconds=600),
    )
    return _decider(policy)


def _minute(decider: Decider, start: float, lines: int) -> list[Decision]:
    return [decider.decide(message="tick 1", timestamp=start + i * 50.0 / lines) for i in range(lines)]


def test_anomaly_boost_raises_the_rate_during_a_spike_then_decays() -> None:
    decider = _boosting(0.05)
    steady = [d for minute in range(10) for d in _minute(decider, minute * 60.0, 30)]
    spike = _minute(decider, 600.0, 100)
    later = decider.decide(message="tick 1", timestamp=900.0)
    after = decider.decide(message="tick 1", timestamp=1300.0)
    assert not any(d.boosted for d in steady)
    assert not spike[89].boosted and spike[91].boosted
    assert spike[91].rate == pytest.approx(0.5, rel=0.01)
    assert 0.05 < later.rate < spike[91].rate
    assert after.rate == 0.05 and not after.boosted


def test_bursts_below_one_line_per_second_never_boost() -> None:
    decider = _boosting(0.05)
    for minute in range(10):
        _minute(decider, minute * 60.0, 2)
    assert not any(d.boosted for d in _minute(decider, 600.0, 50))


def test_idle_minutes_do_not_lower_the_baseline_of_a_bursty_pattern() -> None:
    decider = _boosting(0.05)
    bursts = [d for hour in range(12) for d in _minute(decider, hour * 3600.0, 100)]
    assert not any(d.boosted for d in bursts[400:])


@pytest.mark.parametrize(("other_surges", "boosted"), [(False, True), (True, False)])
def test_a_pattern_surging_with_the_whole_service_is_not_an_anomaly(other_surges: bool, boosted: bool) -> None:
    policy = _policy(
        patterns=(
            PatternRule(id="p", template="tick <*>", rate=0.05),
            PatternRule(id="q", template="tock <*>", rate=0.05),
        ),
        anomaly_boost=AnomalyBoost(enabled=True, factor=10.0, threshold=3.0, duration_seconds=600),
    )
    decider = _decider(policy)
    for minute in range(10):
        for i in range(30):
            decider.decide(message="tick 1", timestamp=minute * 60.0 + i)
            decider.decide(message="tock 1", timestamp=minute * 60.0 + i)
    spike: list[Decision] = []
    for i in range(150):
        spike.append(decider.decide(message="tick 1", timestamp=600.0 + i * 0.3))
        for _ in range(5 if other_surges else 0):
            decider.decide(message="tock 1", timestamp=600.0 + i * 0.3)
    assert spike[-1].boosted is boosted


def test_boosted_rate_is_capped_at_one() -> None:
    decider = _boosting(0.5, factor=50.0, threshold=2.0)
    for minute in range(5):
        _minute(decider, minute * 60.0, 10)
    assert _minute(decider, 300.0, 80)[-1].rate == 1.0


def test_state_stays_bounded() -> None:
    policy = _policy(keep=KeepRules(first_per_pattern=True, window_seconds=60, first_per_signature=False), patterns=())
    decider = Decider(policy, rng=random.Random(0), clock=lambda: 0.0, max_tracked=50, cache_size=50)
    for i in range(1000):
        decider.decide(message=f"event kind{chr(65 + i % 26)}{chr(65 + i // 26 % 26)} happened")
    assert len(decider._first_seen) <= 50
    assert len(decider._trackers) <= 50


def test_kept_line_carries_rate_and_pattern_attributes() -> None:
    decision = _decider(_policy()).decide(message="User alice logged in", trace_id="0af7651916cd43dd8448eb211c80319c")
    assert decision.attributes() == {"lipservice.sample_rate": 0.5, "lipservice.pattern": "login"}


def test_policy_can_be_swapped_at_run_time() -> None:
    decider = _decider(None)
    decider.set_policy(_policy())
    assert decider.decide(message="GET /health 3 ms").pattern_id == "health"


def _buffer(**settings: Any) -> ErrorContextBuffer[str]:
    values = {"enabled": True, "lines_per_trace": 3, "seconds": 10.0, **settings}
    return ErrorContextBuffer(ErrorContext(**values), max_traces=2)


def test_error_releases_the_lines_held_for_its_trace() -> None:
    buffer = _buffer()
    for i in range(2):
        buffer.hold(trace_id="a", item=f"a{i}", now=float(i))
    buffer.hold(trace_id="b", item="b0", now=1.0)
    assert buffer.release(trace_id="a", now=5.0) == ["a0", "a1"]
    assert buffer.release(trace_id="a", now=5.0) == []


def test_lines_older_than_the_context_window_are_not_released() -> None:
    buffer = _buffer()
    buffer.hold(trace_id="a", item="old", now=0.0)
    buffer.hold(trace_id="a", item="new", now=8.0)
    assert buffer.release(trace_id="a", now=12.0) == ["new"]


@pytest.mark.parametrize(
    ("holds", "evicted"),
    [
        ([("a", "a0", 0.0), ("a", "a1", 0.0), ("a", "a2", 0.0), ("a", "a3", 0.0)], ["a0"]),
        ([("a", "a0", 0.0), ("b", "b0", 0.0), ("c", "c0", 0.0)], ["a0"]),
        ([("a", "a0", 0.0), ("b", "b0", 20.0)], ["a0"]),
    ],
)
def test_buffer_stays_bounded(holds: list[tuple[str, str, float]], evicted: list[str]) -> None:
    buffer = _buffer()
    out: list[str] = []
    for trace, item, now in holds:
        out += buffer.hold(trace_id=trace, item=item, now=now)
    assert out == evicted


def test_disabled_buffer_holds_nothing() -> None:
    assert _buffer(enabled=False).hold(trace_id="a", item="x", now=0.0) == ["x"]
