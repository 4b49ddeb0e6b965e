"""The tiered price table, as insights reads it: defined once in policies.engine.pricing, shared with the simulator."""

from __future__ import annotations

from policies.engine.pricing import (
    BYTES_PER_GB,
    DAYS_PER_MONTH,
    MICRO,
    PriceTier,
    Pricing,
    PricingError,
    Retention,
    flat_pricing,
    gigabytes,
    money,
    parse_pricing,
)

__all__ = [
    "BYTES_PER_GB",
    "DAYS_PER_MONTH",
    "MICRO",
    "PriceTier",
    "Pricing",
    "PricingError",
    "Retention",
    "flat_pricing",
    "gigabytes",
    "money",
    "parse_pricing",
]
