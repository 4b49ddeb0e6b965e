"""Tiered price tables: the math, retention, and validation of what a team may store."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from insights.engine.pricing import PricingError, flat_pricing, parse_pricing

TIERED = {
    "tiers": [
        {"up_to_gb": 50, "price_per_gb": 0.0},
        {"up_to_gb": 5000, "price_per_gb": 0.50},
        {"up_to_gb": None, "price_per_gb": 0.35},
    ]
}


@pytest.mark.parametrize(
    ("gb", "dollars"),
    [
        ("0", "0"),
        ("10", "0"),
        ("50", "0"),
        ("51", "0.5"),
        ("100", "25"),
        ("5000", "2475"),
        ("6000", "2825"),  # 4950 GB at 0.50 + 1000 GB at 0.35
        ("0.000001", "0"),
    ],
)
def test_tiered_cost_walks_the_tiers(gb: str, dollars: str) -> None:
    assert parse_pricing(TIERED).monthly_cost(Decimal(gb)) == Decimal(dollars)


def test_flat_price_is_linear() -> None:
    pricing = flat_pricing(0.5)
    assert pricing.monthly_cost(Decimal("3.2")) == Decimal("1.6")


@pytest.mark.parametrize(
    ("retention", "gb", "dollars"),
    [
        ({"days": 30, "included_days": 30, "price_per_gb_month": 0.1}, "100", "50"),
        ({"days": 90, "included_days": 30, "price_per_gb_month": 0.1}, "100", "70"),  # 2 extra GB-months per GB
        ({"multiplier": 1.5}, "100", "75"),
        ({"days": 60, "included_days": 30, "price_per_gb_month": 0.2, "multiplier": 2}, "10", "12"),  # 5 + 5 + 2
    ],
)
def test_retention_adds_storage_and_multiplier(retention: dict[str, Any], gb: str, dollars: str) -> None:
    pricing = parse_pricing({"tiers": [{"up_to_gb": None, "price_per_gb": 0.5}], "retention": retention})
    assert pricing.monthly_cost(Decimal(gb)) == Decimal(dollars)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"tiers": []}, "$.tiers"),
        ({"tiers": [{"up_to_gb": 10, "price_per_gb": 1}]}, "$.tiers[0].up_to_gb"),
        (
            {"tiers": [{"up_to_gb": None, "price_per_gb": 1}, {"up_to_gb": None, "price_per_gb": 1}]},
            "$.tiers[0].up_to_gb",
        ),
        (
            {"tiers": [{"up_to_gb": 10, "price_per_gb": 1}, {"up_to_gb": 5, "price_per_gb": 1}, {"price_per_gb": 1}]},
            "$.tiers[1].up_to_gb",
        ),
        ({"tiers": [{"up_to_gb": None, "price_per_gb": -1}]}, "$.tiers[0].price_per_gb"),
        ({"tiers": [{"up_to_gb": None, "price_per_gb": "cheap"}]}, "$.tiers[0].price_per_gb"),
        ({"tiers": [{"up_to_gb": None, "price_per_gb": True}]}, "$.tiers[0].price_per_gb"),
        ({"retention": {"multiplier": 0.5}}, "$.retention.multiplier"),
        ({"retention": {"days": 7.5}}, "$.retention.days"),
        ({"currency": "dollars"}, "$.currency"),
        ({"discount": 1}, "$.discount"),
        ([1, 2], "$"),
    ],
)
def test_invalid_tables_are_refused_with_the_path(raw: Any, path: str) -> None:
    with pytest.raises(PricingError) as caught:
        parse_pricing(raw)
    assert path in caught.value.issues


def test_missing_parts_take_the_default() -> None:
    default = parse_pricing(TIERED)
    pricing = parse_pricing({"currency": "eur"}, default=default)
    assert pricing.currency == "EUR"
    assert pricing.tiers == default.tiers
