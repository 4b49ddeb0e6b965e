"""Before/after cost per team, service and pattern, allocated so that every level adds up exactly.

Tiers price a team's whole monthly volume, so a pattern has no price of its own: the team's dollars (before and
after) are computed once from its monthly-equivalent GB and then shared out, team → services → patterns, in
proportion to bytes. Shares are taken with the largest-remainder method on micro-dollars, so the parts sum to the
whole to the last 1e-6 at every level, and savings (before − after) reconcile too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from insights.engine.pricing import MICRO, Pricing, gigabytes


@dataclass(frozen=True)
class Usage:
    """Bytes of one pattern of one service over the observed period: everything the app produced, and what was sent."""

    service: str
    pattern: str
    bytes_before: int
    bytes_after: int
    template: str = ""


@dataclass(frozen=True)
class PatternCost:
    pattern: str
    template: str
    bytes_before: int
    bytes_after: int
    before: Decimal
    after: Decimal

    @property
    def savings(self) -> Decimal:
        return self.before - self.after


@dataclass(frozen=True)
class ServiceCost:
    service: str
    bytes_before: int
    bytes_after: int
    before: Decimal
    after: Decimal
    patterns: tuple[PatternCost, ...]

    @property
    def savings(self) -> Decimal:
        return self.before - self.after


@dataclass(frozen=True)
class TeamCost:
    currency: str
    month_factor: Decimal
    bytes_before: int
    bytes_after: int
    before: Decimal
    after: Decimal
    services: tuple[ServiceCost, ...]

    @property
    def savings(self) -> Decimal:
        return self.before - self.after

    def service(self, name: str) -> ServiceCost | None:
        return next((s for s in self.services if s.service == name), None)


def allocate(total: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """Split `total` in proportion to `weights`, in whole micro-units, so the parts sum to `total` exactly.

    Each part gets the floor of its exact share; the units left over go, one each, to the largest remainders
    (ties to the earlier weight). With all weights zero the split is even in the same way.
    """
    if not weights:
        return []
    units = int((total / MICRO).to_integral_value())
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    basis = list(weights) if sum(weights) > 0 else [1] * len(weights)
    whole = sum(basis)
    floors = [units * w // whole for w in basis]
    remainders = [units * w % whole for w in basis]
    left = units - sum(floors)
    for index in sorted(range(len(basis)), key=lambda i: (-remainders[i], i))[:left]:
        floors[index] += 1
    return [Decimal(part) * MICRO for part in floors]


def cost_breakdown(*, usages: Sequence[Usage], pricing: Pricing, month_factor: Decimal) -> TeamCost:
    """Monthly dollars before and after for a team; `month_factor` scales observed bytes to a 30-day month."""
    by_service: dict[str, list[Usage]] = {}
    for usage in usages:
        by_service.setdefault(usage.service, []).append(usage)
    names = sorted(by_service)
    before_bytes = [sum(u.bytes_before for u in by_service[n]) for n in names]
    after_bytes = [sum(u.bytes_after for u in by_service[n]) for n in names]
    team_before = pricing.monthly_cost(gigabytes(sum(before_bytes)) * month_factor)
    team_after = pricing.monthly_cost(gigabytes(sum(after_bytes)) * month_factor)
    service_before = allocate(team_before, before_bytes)
    service_after = allocate(team_after, after_bytes)
    services: list[ServiceCost] = []
    for index, name in enumerate(names):
        rows = sorted(by_service[name], key=lambda u: (-u.bytes_before, u.pattern))
        pattern_before = allocate(service_before[index], [u.bytes_before for u in rows])
        pattern_after = allocate(service_after[index], [u.bytes_after for u in rows])
        patterns = tuple(
            PatternCost(u.pattern, u.template, u.bytes_before, u.bytes_after, b, a)
            for u, b, a in zip(rows, pattern_before, pattern_after, strict=True)
        )
        services.append(
            ServiceCost(
                name, before_bytes[index], after_bytes[index], service_before[index], service_after[index], patterns
            )
        )
    return TeamCost(
        currency=pricing.currency,
        month_factor=month_factor,
        bytes_before=sum(before_bytes),
        bytes_after=sum(after_bytes),
        before=team_before,
        after=team_after,
        services=tuple(services),
    )
