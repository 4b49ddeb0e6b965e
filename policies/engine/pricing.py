"""The one money model: tiered per-GB prices and retention, parsed from plain JSON; money is Decimal, exact to 1e-6.

The rule generator, the simulator and insights all price bytes here (insights.engine.pricing re-exports it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

BYTES_PER_GB = 1_000_000_000
DAYS_PER_MONTH = 30
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86_400
MICRO = Decimal("0.000001")


class PricingError(ValueError):
    """A price table that cannot be used; `issues` maps a JSON path to what is wrong with it."""

    def __init__(self, issues: Mapping[str, str]) -> None:
        self.issues = dict(issues)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.issues.items()))


@dataclass(frozen=True)
class PriceTier:
    """Price of each GB of the month's volume up to `up_to_gb` (cumulative); None is the unbounded last tier."""

    up_to_gb: Decimal | None
    price_per_gb: Decimal


@dataclass(frozen=True)
class Retention:
    """Storage beyond the included days, billed per GB-month, plus a multiplier on the ingestion price.

    At steady state a month's ingestion is stored for `days`; PostHog-style plans include `included_days`, so the
    stored excess is `gb * (days - included_days) / 30` GB-months. `multiplier` models plans that price longer
    retention as a factor on the per-GB ingestion price instead (1 = none).
    """

    days: int = DAYS_PER_MONTH
    included_days: int = DAYS_PER_MONTH
    price_per_gb_month: Decimal = Decimal(0)
    multiplier: Decimal = Decimal(1)

    def cost(self, *, gb: Decimal, ingestion: Decimal) -> Decimal:
        extra_days = max(0, self.days - self.included_days)
        storage = gb * Decimal(extra_days) / Decimal(DAYS_PER_MONTH) * self.price_per_gb_month
        return ingestion * (self.multiplier - 1) + storage


@dataclass(frozen=True)
class Pricing:
    tiers: tuple[PriceTier, ...]
    retention: Retention = field(default_factory=Retention)
    currency: str = "USD"

    def ingestion_cost(self, gb: Decimal) -> Decimal:
        """Walk the tiers: each prices the GB between the previous bound and its own."""
        total = Decimal(0)
        lower = Decimal(0)
        for tier in self.tiers:
            upper = gb if tier.up_to_gb is None else min(gb, tier.up_to_gb)
            if upper > lower:
                total += (upper - lower) * tier.price_per_gb
            if tier.up_to_gb is None or gb <= tier.up_to_gb:
                break
            lower = tier.up_to_gb
        return total

    def monthly_cost(self, gb: Decimal) -> Decimal:
        """Dollars for one month in which `gb` were ingested: tiers, then retention; rounded to 1e-6."""
        ingestion = self.ingestion_cost(gb)
        return money(ingestion + self.retention.cost(gb=gb, ingestion=ingestion))

    def average_price_per_gb(self, gb: Decimal) -> Decimal:
        if gb <= 0:
            return self.monthly_cost(Decimal(1)) if self.tiers else Decimal(0)
        return self.monthly_cost(gb) / gb

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "tiers": [
                {
                    "up_to_gb": None if t.up_to_gb is None else float(t.up_to_gb),
                    "price_per_gb": float(t.price_per_gb),
                }
                for t in self.tiers
            ],
            "retention": {
                "days": self.retention.days,
                "included_days": self.retention.included_days,
                "price_per_gb_month": float(self.retention.price_per_gb_month),
                "multiplier": float(self.retention.multiplier),
            },
        }


def money(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def gigabytes(num_bytes: int | Decimal) -> Decimal:
    return Decimal(num_bytes) / Decimal(BYTES_PER_GB)


def month_factor(observed_seconds: float | None) -> Decimal:
    """How many times a history of `observed_seconds` fits in a month; 1 when its duration is unknown (the history
    is then taken as the month's whole volume)."""
    if not observed_seconds or observed_seconds <= 0:
        return Decimal(1)
    return Decimal(SECONDS_PER_MONTH) / Decimal(str(observed_seconds))


def monthly_dollars(pricing: Pricing, *, num_bytes: float, observed_seconds: float | None) -> Decimal:
    """The month's bill if `num_bytes` over `observed_seconds` went on at that pace for a month, tiers included."""
    return pricing.monthly_cost(gigabytes(Decimal(str(num_bytes))) * month_factor(observed_seconds))


def period_dollars(pricing: Pricing, *, num_bytes: float, observed_seconds: float | None) -> Decimal:
    """The share of that monthly bill that falls on the observed period itself."""
    factor = month_factor(observed_seconds)
    return money(monthly_dollars(pricing, num_bytes=num_bytes, observed_seconds=observed_seconds) / factor)


def bytes_within_budget(
    pricing: Pricing, *, dollars_per_month: float, observed_seconds: float | None, upper_bytes: float
) -> float:
    """The most bytes (up to `upper_bytes`) whose monthly bill stays within the budget; the bill grows with volume,
    so a bisection finds it whatever the tiers."""
    budget = Decimal(str(dollars_per_month))

    def fits(num_bytes: float) -> bool:
        return monthly_dollars(pricing, num_bytes=num_bytes, observed_seconds=observed_seconds) <= budget

    if fits(upper_bytes):
        return upper_bytes
    low, high = 0.0, upper_bytes
    for _ in range(60):
        middle = (low + high) / 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def flat_pricing(price_per_gb: float | Decimal, *, currency: str = "USD") -> Pricing:
    return Pricing(tiers=(PriceTier(None, _decimal(price_per_gb)),), currency=currency)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation("a boolean is not a number")
    result = Decimal(str(value))
    if not result.is_finite():
        raise InvalidOperation("not finite")
    return result


def _number(raw: Mapping[str, Any], key: str, path: str, issues: dict[str, str], default: Any) -> Decimal:
    value = raw.get(key, default)
    try:
        number = _decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        issues[f"{path}.{key}"] = f"must be a number, got {value!r}"
        return Decimal(0)
    if number < 0:
        issues[f"{path}.{key}"] = "must not be negative"
    return number


def parse_pricing(raw: Any, *, default: Pricing | None = None) -> Pricing:
    """Validate `{"currency", "tiers": [{"up_to_gb", "price_per_gb"}...], "retention": {...}}`.

    Tiers must have strictly increasing bounds and end with an unbounded tier (`up_to_gb: null`). A missing
    `tiers` or `retention` takes the default's. Raises PricingError listing every problem at once.
    """
    base = default or flat_pricing(Decimal("0.50"))
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise PricingError({"$": "pricing must be an object"})
    issues: dict[str, str] = {}
    unknown = sorted(set(raw) - {"currency", "tiers", "retention"})
    for key in unknown:
        issues[f"$.{key}"] = "unknown field"
    currency = raw.get("currency", base.currency)
    if not isinstance(currency, str) or not (len(currency) == 3 and currency.isalpha()):
        issues["$.currency"] = "must be a three-letter currency code"
        currency = base.currency
    tiers = base.tiers if "tiers" not in raw else _parse_tiers(raw["tiers"], issues)
    retention = base.retention if "retention" not in raw else _parse_retention(raw["retention"], issues)
    if issues:
        raise PricingError(issues)
    return Pricing(tiers=tiers, retention=retention, currency=currency.upper())


def _parse_tiers(raw: Any, issues: dict[str, str]) -> tuple[PriceTier, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        issues["$.tiers"] = "must be a non-empty list"
        return ()
    tiers: list[PriceTier] = []
    previous = Decimal(0)
    for index, item in enumerate(raw):
        path = f"$.tiers[{index}]"
        if not isinstance(item, Mapping):
            issues[path] = "must be an object"
            continue
        extra = sorted(set(item) - {"up_to_gb", "price_per_gb"})
        if extra:
            issues[path] = f"unknown fields {', '.join(extra)}"
        price = _number(item, "price_per_gb", path, issues, None)
        bound: Decimal | None = None
        if item.get("up_to_gb") is not None:
            bound = _number(item, "up_to_gb", path, issues, None)
            if bound <= previous:
                issues[f"{path}.up_to_gb"] = "bounds must increase strictly from one tier to the next"
            previous = max(previous, bound)
        elif index != len(raw) - 1:
            issues[f"{path}.up_to_gb"] = "only the last tier may be unbounded (null)"
        tiers.append(PriceTier(bound, price))
    if tiers and tiers[-1].up_to_gb is not None:
        issues[f"$.tiers[{len(raw) - 1}].up_to_gb"] = "the last tier must be unbounded (null)"
    return tuple(tiers)


def _parse_retention(raw: Any, issues: dict[str, str]) -> Retention:
    if not isinstance(raw, Mapping):
        issues["$.retention"] = "must be an object"
        return Retention()
    extra = sorted(set(raw) - {"days", "included_days", "price_per_gb_month", "multiplier"})
    if extra:
        issues["$.retention"] = f"unknown fields {', '.join(extra)}"
    days = _number(raw, "days", "$.retention", issues, DAYS_PER_MONTH)
    included = _number(raw, "included_days", "$.retention", issues, DAYS_PER_MONTH)
    for key, value in (("days", days), ("included_days", included)):
        if value != value.to_integral_value():
            issues[f"$.retention.{key}"] = "must be a whole number of days"
    multiplier = _number(raw, "multiplier", "$.retention", issues, 1)
    if multiplier < 1 and "$.retention.multiplier" not in issues:
        issues["$.retention.multiplier"] = "must be at least 1"
    return Retention(
        days=int(days),
        included_days=int(included),
        price_per_gb_month=_number(raw, "price_per_gb_month", "$.retention", issues, 0),
        multiplier=multiplier,
    )
