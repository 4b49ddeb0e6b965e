"""Allocation of a team's tiered dollars to services and patterns: every level adds up exactly."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from insights.engine.cost import Usage, allocate, cost_breakdown
from insights.engine.pricing import parse_pricing

TIERED = parse_pricing(
    {"tiers": [{"up_to_gb": 1, "price_per_gb": 0}, {"up_to_gb": 50, "price_per_gb": 0.5}, {"price_per_gb": 0.35}]}
)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        ("1.000000", [1, 1, 1], ["0.333334", "0.333333", "0.333333"]),
        ("0.000002", [5, 3, 1], ["0.000001", "0.000001", "0"]),
        ("10", [0, 0], ["5", "5"]),
        ("7", [0, 3], ["0", "7"]),
        ("0", [1, 2], ["0", "0"]),
    ],
)
def test_allocate_splits_in_proportion_and_sums_exactly(total: str, weights: list[int], expected: list[str]) -> None:
    parts = allocate(Decimal(total), weights)
    assert parts == [Decimal(e) for e in expected]
    assert sum(parts) == Decimal(total)


@pytest.mark.parametrize("seed", range(5))
def test_breakdown_reconciles_patterns_to_services_to_team(seed: int) -> None:
    rng = random.Random(seed)
    usages = []
    for s in range(rng.randint(1, 5)):
        for p in range(rng.randint(1, 30)):
            before = rng.randint(0, 3 * 10**9)
            usages.append(Usage(f"svc{s}", f"p{p}", before, rng.randint(0, before)))
    cost = cost_breakdown(usages=usages, pricing=TIERED, month_factor=Decimal("4.3"))
    assert sum(s.before for s in cost.services) == cost.before
    assert sum(s.after for s in cost.services) == cost.after
    assert sum(s.savings for s in cost.services) == cost.savings
    for service in cost.services:
        assert sum(p.before for p in service.patterns) == service.before
        assert sum(p.after for p in service.patterns) == service.after
        assert sum(p.savings for p in service.patterns) == service.savings
        assert sum(p.bytes_before for p in service.patterns) == service.bytes_before
    total_gb = Decimal(sum(u.bytes_before for u in usages)) / 10**9 * Decimal("4.3")
    assert cost.before == TIERED.monthly_cost(total_gb)


def test_team_dollars_go_to_services_by_bytes() -> None:
    usages = [Usage("a", "p", 30 * 10**9, 30 * 10**9), Usage("b", "p", 10 * 10**9, 10 * 10**9)]
    cost = cost_breakdown(usages=usages, pricing=TIERED, month_factor=Decimal(1))
    # 40 GB: 1 free, 39 at 0.50 = 19.5, shared 3:1.
    assert cost.before == Decimal("19.5")
    assert [s.before for s in cost.services] == [Decimal("14.625"), Decimal("4.875")]
