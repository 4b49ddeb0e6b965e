"""Sampling recommendations priced in dollars: which patterns to sample harder, what it saves, what it keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from insights.engine.explain import headline
from insights.engine.pricing import money

# The rate we suggest by the pattern's dominant severity; errors are kept whatever the rate (the SDK's decision).
SUGGESTED_RATES: Mapping[str, float] = {"TRACE": 0.01, "DEBUG": 0.01, "INFO": 0.05, "WARN": 0.25}
MIN_BYTES_SHARE = 0.02
MIN_LINES = 1000
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PatternVolume:
    """One pattern over a month: bytes produced (before sampling), lines, error lines, its current rate."""

    pattern: str
    template: str
    bytes: int
    lines: int
    errors: int
    severity: str
    current_rate: float


@dataclass(frozen=True)
class Recommendation:
    pattern: str
    template: str
    bytes_share: float
    current_rate: float
    suggested_rate: float
    savings_per_month: Decimal
    cost_after_per_month: Decimal
    roi: float | None
    errors_kept: int
    message: str


def _amount(value: Decimal) -> str:
    """Cents, or four decimals for amounts below a cent (small services still deserve a number)."""
    if abs(value) >= CENT:
        return str(value.quantize(CENT, ROUND_HALF_UP))
    return str(value.quantize(Decimal("0.0001"), ROUND_HALF_UP))


def recommend(
    *, volumes: Sequence[PatternVolume], price_per_gb: Decimal, currency: str, limit: int = 10
) -> list[Recommendation]:
    """Rank patterns by the monthly dollars a lower rate would save.

    `price_per_gb` is the team's average price at its monthly volume (tiers included), so a recommendation's dollars
    are on the same basis as the cost breakdown. Savings count non-error bytes only, because errors are kept at any
    rate. ROI is dollars saved per dollar still spent on the pattern afterwards (savings / cost after): how much
    each retained dollar buys back. Rare patterns (< MIN_LINES a month) and small ones (< 2% of bytes) are left
    alone: they are where the information is, and they save little.
    """
    total = sum(v.bytes for v in volumes)
    out: list[Recommendation] = []
    for v in volumes:
        suggested = SUGGESTED_RATES.get(v.severity)
        if not total or suggested is None or v.lines < MIN_LINES or suggested >= v.current_rate:
            continue
        share = v.bytes / total
        if share < MIN_BYTES_SHARE or v.errors >= v.lines:
            continue
        error_bytes = v.bytes * v.errors / v.lines if v.lines else 0.0
        calm = v.bytes - error_bytes
        gb_now = (error_bytes + calm * v.current_rate) / 1e9
        gb_after = (error_bytes + calm * suggested) / 1e9
        savings = money(Decimal(str(gb_now - gb_after)) * price_per_gb)
        after = money(Decimal(str(gb_after)) * price_per_gb)
        if savings <= 0:
            continue
        roi = round(float(savings / after), 2) if after > 0 else None
        kept = "keeps all errors" if v.errors else "has no errors"
        message = (
            f"{headline(v.template, 80)!r} is {share:.0%} of bytes; sampling it at {suggested:.0%} "
            f"(now {v.current_rate:.0%}) saves {currency} {_amount(savings)}/month and {kept}."
        )
        out.append(
            Recommendation(
                pattern=v.pattern,
                template=v.template,
                bytes_share=share,
                current_rate=v.current_rate,
                suggested_rate=suggested,
                savings_per_month=savings,
                cost_after_per_month=after,
                roi=roi,
                errors_kept=v.errors,
                message=message,
            )
        )
    out.sort(key=lambda r: (-r.savings_per_month, r.pattern))
    return out[:limit]
