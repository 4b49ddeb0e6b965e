"""The rule-based generator meets its target by cutting the cheapest information first and never touching errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.engine.checker import find_violations
from policies.engine.pricing import flat_pricing, parse_pricing
from policies.engine.rules import (
    BudgetTarget,
    ReductionTarget,
    RuleConfig,
    generate_rule_policy,
    monthly_cost,
    reduction_for,
)
from policies.engine.simulator import simulate
from policies.engine.stats import PatternStats
from tests.policies.engine.factories import records, stats

WHEN = datetime(2026, 11, 23, tzinfo=UTC)


def _mix() -> list[PatternStats]:
    return [
        stats("health", "GET /healthz <*> ms", 5000, examples=("GET /healthz 3 ms",)),
        stats("debug", "cache lookup key <*>", 3000, severity="DEBUG"),
        stats("info", "order <*> placed", 1500),
        stats("warn", "slow query <*> ms", 400, severity="WARN"),
        stats("fail", "payment <*> failed", 300, errors=250),
        stats("rare", "config reloaded by <*>", 4),
    ]


def _rates(target: float, mix: list[PatternStats] | None = None) -> dict[str, float]:
    policy = generate_rule_policy(service="api", stats=mix or _mix(), target=ReductionTarget(target), generated_at=WHEN)
    return {p.id: p.rate for p in policy.patterns}


@pytest.mark.parametrize("target", [0.0, 0.3, 0.5, 0.8, 0.95, 1.0])
def test_generated_policy_passes_the_checker(target: float) -> None:
    mix = _mix()
    policy = generate_rule_policy(service="api", stats=mix, target=ReductionTarget(target), generated_at=WHEN)
    assert find_violations(policy, stats=mix) == []
    assert policy.severity_rates["ERROR"] == policy.severity_rates["FATAL"] == 1.0


@pytest.mark.parametrize("target", [0.3, 0.5, 0.8])
def test_expected_reduction_meets_a_feasible_target(target: float) -> None:
    lines = (
        records("GET /healthz {i} ms", 5000)
        + records("cache lookup key {i}", 3000, severity="DEBUG")
        + records("order {i} placed", 1500)
        + records("slow query {i} ms", 400, severity="WARN")
    )
    from policies.engine.mining import assign_by_template_key, stats_from_assignment

    ids, templates = assign_by_template_key(lines)
    mix = stats_from_assignment(records=lines, pattern_ids=ids, templates=templates)
    policy = generate_rule_policy(service="api", stats=mix, target=ReductionTarget(target), generated_at=WHEN)
    report = simulate(policy=policy, records=lines, pricing=flat_pricing(1.0), seed=3)
    assert report.reduction_bytes == pytest.approx(target, abs=0.02)


def test_zero_target_keeps_everything() -> None:
    assert set(_rates(0.0).values()) == {1.0}


def test_errors_and_rare_patterns_are_never_cut() -> None:
    rates = _rates(0.99)
    assert rates["rare"] == 1.0
    assert rates["fail"] >= rates["info"]


def test_lowest_information_is_cut_first() -> None:
    rates = _rates(0.85)
    assert rates["health"] < rates["info"]
    assert rates["debug"] < rates["info"]
    assert rates["info"] < rates["warn"]


@pytest.mark.parametrize("volume", [200, 2000, 20000])
def test_higher_volume_gets_a_lower_rate(volume: int) -> None:
    mix = [stats("a", "alpha <*>", volume), stats("b", "beta <*>", volume * 2), stats("c", "gamma <*>", volume * 4)]
    rates = _rates(0.6, mix)
    assert rates["a"] >= rates["b"] >= rates["c"]
    assert rates["c"] < 1.0


def test_infeasible_target_says_so_and_keeps_what_must_be_kept() -> None:
    mix = [stats("fail", "payment <*> failed", 1000, errors=1000), stats("x", "tick <*>", 100)]
    policy = generate_rule_policy(service="api", stats=mix, target=ReductionTarget(0.8), generated_at=WHEN)
    assert "cannot meet" in policy.reasoning
    assert find_violations(policy, stats=mix) == []


def test_every_pattern_has_a_reason_in_words() -> None:
    policy = generate_rule_policy(service="api", stats=_mix(), target=ReductionTarget(0.8), generated_at=WHEN)
    reasons = {p.id: p.reason for p in policy.patterns}
    assert "Rare" in reasons["rare"]
    assert "Health-check" in reasons["health"]
    assert "ERROR/FATAL" in reasons["fail"]
    assert all(len(r.split()) >= 5 for r in reasons.values())


def test_generation_is_deterministic() -> None:
    first = generate_rule_policy(service="api", stats=_mix(), target=ReductionTarget(0.7), generated_at=WHEN)
    second = generate_rule_policy(service="api", stats=_mix(), target=ReductionTarget(0.7), generated_at=WHEN)
    assert first == second
    assert first.etag and first.generated_by == "rules"


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(100.0, 0.0), (50.0, 0.5), (10.0, 0.9), (0.0, 1.0)],
)
def test_budget_target_becomes_a_reduction(budget: float, expected: float) -> None:
    # 1 GB seen in one day at $1/GB is $30 a month... scaled so that $100/month is the bill before.
    day = 86_400.0
    bytes_seen = int(100 / 30 * 1e9)
    target = BudgetTarget(dollars_per_month=budget, pricing=flat_pricing(1), observed_seconds=day)
    assert monthly_cost(bytes_observed=bytes_seen, observed_seconds=day, pricing=flat_pricing(1)) == pytest.approx(100)
    assert reduction_for(target, total_bytes=bytes_seen) == pytest.approx(expected)


def test_budget_target_is_priced_by_the_tiers() -> None:
    # 100 GB a month: the first 50 GB are free and the rest cost $1/GB, so a $25 budget allows 75 GB, not 25 GB.
    tiered = parse_pricing({"tiers": [{"up_to_gb": 50, "price_per_gb": 0}, {"up_to_gb": None, "price_per_gb": 1}]})
    target = BudgetTarget(dollars_per_month=25.0, pricing=tiered, observed_seconds=30 * 86_400)
    assert reduction_for(target, total_bytes=100 * 10**9) == pytest.approx(0.25, abs=1e-6)


def test_window_seconds_reaches_the_document() -> None:
    policy = generate_rule_policy(
        service="api", stats=_mix(), target=ReductionTarget(0.5), config=RuleConfig(window_seconds=60)
    )
    assert policy.keep.window_seconds == 60 and policy.keep.first_per_pattern


@pytest.mark.parametrize(
    ("template", "chatter"),
    [
        ("GET /healthz <*> ms", True),
        ("heartbeat from <*>", True),
        ("ping <*> ok", True),
        ("mapping <*> to <*>", False),
        ("shipping order <*>", False),
    ],
)
def test_health_check_words_match_whole_words_only(template: str, chatter: bool) -> None:
    policy = generate_rule_policy(
        service="api", stats=[stats("p", template, 1000), stats("q", "other <*>", 1000)], target=ReductionTarget(0.8)
    )
    reasons = {rule.id: rule.reason for rule in policy.patterns}
    assert ("Health-check" in reasons["p"]) is chatter


def _keyed(pattern_id: str, count: int, keys: int) -> PatternStats:
    return PatternStats(
        id=pattern_id,
        template=f"{pattern_id} <*>",
        count=count,
        bytes=count * 100,
        severity_counts={"INFO": count},
        key_count=keys,
    )


@pytest.mark.parametrize(("keys", "per_signature"), [(10, True), (900, False)])
def test_first_line_per_template_key_is_dropped_only_when_it_alone_breaks_the_target(
    keys: int, per_signature: bool
) -> None:
    mix = [_keyed("hosts", 1000, keys), _keyed("ticks", 1000, 1)]
    policy = generate_rule_policy(service="api", stats=mix, target=ReductionTarget(0.8), generated_at=WHEN)
    assert policy.keep.first_per_signature is per_signature
    assert ("first line of each distinct template key is not kept" in policy.reasoning) is not per_signature
    assert policy.keep.first_per_pattern


def test_estimate_reduction_agrees_with_the_generator_when_it_drops_signature_firsts() -> None:
    from policies.engine.rules import ReductionTarget, estimate_reduction, generate_rule_policy
    from policies.engine.stats import PatternStats

    # Many distinct keys per pattern over many windows: keeping a first line per key would break the target.
    stats = [
        PatternStats(
            id=f"p{i}",
            template=f"event {i} <*>",
            count=50_000,
            bytes=5_000_000,
            severity_counts={"INFO": 50_000},
            signatures=tuple(f"{i:02d}{k:014x}" for k in range(40)),
            first_seen=0.0,
            last_seen=7 * 86_400.0,
            key_count=40,
        )
        for i in range(3)
    ]
    policy = generate_rule_policy(service="svc", stats=stats, target=ReductionTarget(0.7))
    assert policy.keep.first_per_signature is False
    assert abs(estimate_reduction(policy=policy, stats=stats) - 0.7) < 0.02


@pytest.mark.parametrize(
    "line",
    [
        "payload " + " ".join(f"field{i}=value{i}" for i in range(600)),  # many tokens
        "blob=" + "x" * 5_000 + " end",  # one enormous token
    ],
)
def test_a_pattern_with_a_template_over_the_limit_ships_with_a_shorter_template_that_still_covers_it(
    line: str,
) -> None:
    from lipservice_sdk.signature import template_key, template_matches

    key = template_key(line)
    assert len(key) > RuleConfig().limits.max_template_length
    mix = [*_mix(), stats("long", key, 2000, examples=(line,))]
    policy = generate_rule_policy(service="api", stats=mix, target=ReductionTarget(0.8), generated_at=WHEN)

    assert find_violations(policy, stats=mix) == []
    (rule,) = [p for p in policy.patterns if p.id == "long"]
    assert len(rule.template) <= RuleConfig().limits.max_template_length
    assert template_matches(rule.template, line)
    assert not template_matches(rule.template, "GET /healthz 3 ms")
