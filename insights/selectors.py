"""Reads for insights: pricing, before/after bytes, daily series, cost, projections, recommendations, incidents."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Case, F, Min, QuerySet, Sum, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from insights.engine.agreement import SavingsAgreement, savings_agreement
from insights.engine.cost import TeamCost, Usage, allocate, cost_breakdown
from insights.engine.pricing import DAYS_PER_MONTH, Pricing, PricingError, gigabytes, money
from insights.engine.projection import MonthProjection, project_month
from insights.engine.recommend import PatternVolume, Recommendation, recommend
from insights.engine.regime import RegimeProjection, project_month_with_policy, regime_first_day
from insights.models import AlertChannel, AlertDelivery, Anomaly, Incident
from lipservice.errors import DomainError
from lipservice.models import Team
from patterns.selectors import (
    KEPT_ONLY_SOURCES,
    WINDOW_HAS_SDK,
    delivery_losses,
    pattern_windows_in_range,
    patterns_of_service,
    service_list,
)
from policies.selectors import policy_active, policy_versions_published, team_price_table

if TYPE_CHECKING:
    from patterns.models import Pattern, Service
    from policies.models import PolicyVersion

DEFAULT_PERIOD_DAYS = 30
PROJECTION_HISTORY_DAYS = 56


class InvalidPricing(DomainError):
    code = "invalid_pricing"


def team_pricing(*, team: Team) -> Pricing:
    """The team's price table (`Team.config["pricing"]`) over the settings default; a broken one is an error."""
    try:
        return team_price_table(team=team)
    except PricingError as exc:
        raise InvalidPricing(f"The team's pricing is invalid: {exc}", details={"errors": exc.issues}) from exc


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    observed_start: datetime | None

    @property
    def observed_seconds(self) -> float:
        if self.observed_start is None:
            return 0.0
        return max(0.0, (self.end - self.observed_start).total_seconds())

    @property
    def month_factor(self) -> Decimal:
        """Observed bytes × this = a 30-day month's bytes."""
        seconds = self.observed_seconds
        if seconds <= 0:
            return Decimal(1)
        return Decimal(DAYS_PER_MONTH * 86_400) / Decimal(str(seconds))


def period_for(*, team: Team, days: int = DEFAULT_PERIOD_DAYS, end: datetime | None = None) -> Period:
    """The trailing `days` before `end` (default now); observation starts at the team's first window in it."""
    stop = end or timezone.now()
    start = stop - timedelta(days=days)
    first = pattern_windows_in_range(team=team, start=start, stop=stop).aggregate(first=Min("bucket_start"))["first"]
    return Period(start=start, end=stop, observed_start=first)


@dataclass
class PatternBytes:
    pattern_id: int
    bytes_before: float = 0.0
    bytes_after: float = 0.0
    lines_before: float = 0.0
    errors: int = 0


def _rate_in(document: Mapping[str, Any], pattern: Pattern) -> float:
    """The rate a policy document applies to a pattern: its own, else its severity's, else the default."""
    for rule in document.get("patterns") or []:
        if isinstance(rule, Mapping) and rule.get("id") == pattern.pattern_id and rule.get("rate") is not None:
            return float(rule["rate"])
    severity = pattern_dominant_severity(pattern)
    rates = document.get("severity_rates") or {}
    if severity in rates:
        return float(rates[severity])
    return float(document.get("default_rate", 1.0))


def pattern_dominant_severity(pattern: Pattern) -> str:
    counts: dict[str, int] = {
        str(k): int(v) for k, v in (pattern.severity_counts or {}).items() if k not in {"ERROR", "FATAL"} and v
    }
    if counts:
        return max(sorted(counts), key=lambda k: counts[k])
    return "ERROR" if pattern.error_count else "INFO"


def _policy_timeline(service: Service) -> tuple[list[datetime], list[Mapping[str, Any]]]:
    versions = policy_versions_published(service=service)
    return [v.published_at for v in versions if v.published_at], [v.document for v in versions]


def pattern_bytes(*, service: Service, start: datetime, end: datetime) -> dict[int, PatternBytes]:
    """Bytes each pattern produced (before) and sent (after) in [start, end).

    Per window: SDK counts when the SDK reported (seen = before, kept = after). Otherwise the analysis counts: a
    source reading from PostHog saw only kept lines, so before = error bytes + other bytes / rate of the policy in
    force at that hour; a source that reads the application's own logs (files) saw everything, nothing dropped.
    """
    windows = pattern_windows_in_range(service=service, start=start, stop=end)
    out: dict[int, PatternBytes] = {}
    sdk_rows = (
        windows.filter(WINDOW_HAS_SDK)
        .values("pattern_id")
        .annotate(seen=Sum("sdk_bytes_seen"), kept=Sum("sdk_bytes_kept"), lines=Sum("sdk_seen"), err=Sum("errors"))
    )
    for row in sdk_rows:
        acc = out.setdefault(row["pattern_id"], PatternBytes(row["pattern_id"]))
        acc.bytes_before += row["seen"] or 0
        acc.bytes_after += row["kept"] or 0
        acc.lines_before += row["lines"] or 0
        acc.errors += row["err"] or 0
    analysed = windows.exclude(WINDOW_HAS_SDK)
    reweight = service.source_kind in KEPT_ONLY_SOURCES
    times, documents = _policy_timeline(service) if reweight else ([], [])
    if not times:
        rows = analysed.values("pattern_id").annotate(b=Sum("bytes"), n=Sum("count"), err=Sum("errors"))
        for row in rows:
            acc = out.setdefault(row["pattern_id"], PatternBytes(row["pattern_id"]))
            acc.bytes_before += row["b"] or 0
            acc.bytes_after += row["b"] or 0
            acc.lines_before += row["n"] or 0
            acc.errors += row["err"] or 0
        return out
    patterns = {p.pk: p for p in patterns_of_service(service=service)}
    for window in analysed.only("pattern_id", "bucket_start", "bytes", "count", "errors"):
        acc = out.setdefault(window.pattern_id, PatternBytes(window.pattern_id))
        index = bisect.bisect_right(times, window.bucket_start) - 1
        rate = _rate_in(documents[index], patterns[window.pattern_id]) if index >= 0 else 1.0
        rate = min(max(rate, 1e-6), 1.0)
        error_share = min(1.0, window.errors / window.count) if window.count else 0.0
        error_bytes = window.bytes * error_share
        calm_lines = max(0, window.count - window.errors)
        acc.bytes_after += window.bytes
        acc.bytes_before += error_bytes + (window.bytes - error_bytes) / rate
        acc.lines_before += window.errors + calm_lines / rate
        acc.errors += window.errors
    return out


def team_cost(*, team: Team, period: Period | None = None) -> TeamCost:
    """Monthly before/after dollars for the team, its services and their patterns, reconciling exactly."""
    period = period or period_for(team=team)
    usages: list[Usage] = []
    for service in service_list(team=team):
        rows = pattern_bytes(service=service, start=period.start, end=period.end)
        names = dict(patterns_of_service(service=service, pks=rows).values_list("pk", "pattern_id"))
        templates = dict(patterns_of_service(service=service, pks=rows).values_list("pk", "template"))
        usages.extend(
            Usage(
                service=service.name,
                pattern=names[pk],
                bytes_before=round(row.bytes_before),
                bytes_after=round(row.bytes_after),
                template=templates[pk],
            )
            for pk, row in rows.items()
        )
    return cost_breakdown(usages=usages, pricing=team_pricing(team=team), month_factor=period.month_factor)


def daily_bytes_after(
    *, services: Sequence[Service], today: date, days: int = PROJECTION_HISTORY_DAYS
) -> tuple[date | None, list[float]]:
    """Complete UTC days of bytes sent (SDK kept, else analysed), consecutive and zero-filled, ending yesterday.

    A first day whose data starts after midnight is partial and left out, as is today.
    """
    start = datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=UTC)
    stop = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    windows = pattern_windows_in_range(services=services, start=start, stop=stop)
    first = windows.aggregate(first=Min("bucket_start"))["first"]
    if first is None:
        return None, []
    rows = (
        windows.annotate(day=TruncDate("bucket_start", tzinfo=UTC))
        .values("day")
        .annotate(total=Sum(Case(When(WINDOW_HAS_SDK, then=F("sdk_bytes_kept")), default=F("bytes"))))
    )
    totals = {row["day"]: float(row["total"] or 0) for row in rows}
    first_utc = first.astimezone(UTC)
    first_day = first_utc.date()
    if first_utc.time() != datetime.min.time():
        first_day += timedelta(days=1)
    count = (today - first_day).days
    return (
        (first_day, [totals.get(first_day + timedelta(days=i), 0.0) for i in range(count)])
        if count > 0
        else (
            None,
            [],
        )
    )


@dataclass(frozen=True)
class CostProjection:
    projection: MonthProjection | None
    month_end_bytes: float
    month_end_cost: Decimal
    currency: str


def cost_projection(*, team: Team, service: Service | None = None, today: date | None = None) -> CostProjection:
    """Month-end bytes and dollars; a service's dollars are its bytes at the team's projected average price."""
    day = today or timezone.now().date()
    pricing = team_pricing(team=team)
    team_services = list(service_list(team=team))
    team_start, team_values = daily_bytes_after(services=team_services, today=day)
    if team_start is None or len(team_values) < 2:
        return CostProjection(None, 0.0, Decimal(0), pricing.currency)
    team_projection = project_month(team_values, start=team_start, today=day)
    team_gb = gigabytes(Decimal(str(round(team_projection.projected_total))))
    team_cost_total = pricing.monthly_cost(team_gb)
    if service is None:
        return CostProjection(team_projection, team_projection.projected_total, team_cost_total, pricing.currency)
    start, values = daily_bytes_after(services=[service], today=day)
    if start is None or len(values) < 2:
        return CostProjection(None, 0.0, Decimal(0), pricing.currency)
    projection = project_month(values, start=start, today=day)
    share = Decimal(str(projection.projected_total / team_projection.projected_total)) if team_gb > 0 else Decimal(0)
    return CostProjection(
        projection,
        projection.projected_total,
        (team_cost_total * share).quantize(Decimal("0.000001")),
        pricing.currency,
    )


def policy_document_active(*, service: Service) -> Mapping[str, Any] | None:
    version = policy_active(service=service)
    return version.document if version else None


def service_recommendations(
    *, service: Service, period: Period | None = None, cost: TeamCost | None = None, limit: int = 10
) -> list[Recommendation]:
    """Rate cuts worth making, priced at the team's average price per GB at its current monthly volume."""
    team = service.team
    period = period or period_for(team=team)
    cost = cost or team_cost(team=team, period=period)
    pricing = team_pricing(team=team)
    monthly_gb = gigabytes(cost.bytes_after) * period.month_factor
    price = pricing.average_price_per_gb(monthly_gb)
    document = policy_document_active(service=service) or {}
    factor = float(period.month_factor)
    rows = pattern_bytes(service=service, start=period.start, end=period.end)
    patterns = patterns_of_service(service=service, pks=rows)
    volumes = [
        PatternVolume(
            pattern=p.pattern_id,
            template=p.template,
            bytes=round(rows[p.pk].bytes_before * factor),
            lines=round(rows[p.pk].lines_before * factor),
            errors=round(rows[p.pk].errors * factor),
            severity=pattern_dominant_severity(p),
            current_rate=_rate_in(document, p) if document else 1.0,
        )
        for p in patterns
    ]
    return recommend(volumes=volumes, price_per_gb=price, currency=pricing.currency, limit=limit)


def anomalies_recent(*, service: Service, since: datetime | None = None) -> QuerySet[Anomaly]:
    since = since or timezone.now() - timedelta(days=7)
    return (
        Anomaly.objects.filter(service=service, window_end__gte=since)
        .select_related("pattern", "incident")
        .order_by("-window_start", "id")
    )


def incidents_open(*, service: Service) -> QuerySet[Incident]:
    return Incident.objects.filter(service=service, status=Incident.Status.OPEN).order_by("-window_end")


def alert_channels_for(*, team: Team, service: Service) -> list[AlertChannel]:
    channels = AlertChannel.objects.filter(team=team, active=True).order_by("name")
    return [c for c in channels if not c.services or service.name in c.services]


def alert_last_sent(*, channel: AlertChannel, service: Service) -> AlertDelivery | None:
    """The channel's latest alert for the service that went out (or is going), for cooldowns."""
    return (
        AlertDelivery.objects.filter(
            channel=channel,
            incident__service=service,
            status__in=[AlertDelivery.Status.PENDING, AlertDelivery.Status.DELIVERED],
        )
        .order_by("-created_at")
        .first()
    )


def policy_savings_agreement(*, version: PolicyVersion, until: datetime | None = None) -> SavingsAgreement:
    """The version's simulated byte reduction against the SDK's measured one since it was published."""
    start = version.published_at or version.created_at
    windows = pattern_windows_in_range(service=version.service, start=start).filter(WINDOW_HAS_SDK)
    if until is not None:
        windows = windows.filter(bucket_start__lt=until)
    totals = windows.aggregate(seen=Sum("sdk_bytes_seen"), kept=Sum("sdk_bytes_kept"))
    return savings_agreement(
        simulation=version.simulation or {}, bytes_seen=totals["seen"] or 0, bytes_kept=totals["kept"] or 0
    )


# --- API read models -------------------------------------------------------------------------------------------------


def _period_dict(period: Period) -> dict[str, Any]:
    return {
        "start": period.start,
        "end": period.end,
        "observed_start": period.observed_start,
        "observed_days": round(period.observed_seconds / 86_400, 4),
        "basis": "monthly_run_rate",
    }


def _share(savings: Decimal, before: Decimal) -> float:
    return round(float(savings / before), 6) if before > 0 else 0.0


def _insight_context(*, team: Team, days: int, now: datetime | None) -> tuple[Period, TeamCost, dict[str, Any]]:
    period = period_for(team=team, days=days, end=now)
    cost = team_cost(team=team, period=period)
    return period, cost, run_rates(team=team, period=period, cost=cost)


def team_insights(*, team: Team, days: int = DEFAULT_PERIOD_DAYS, now: datetime | None = None) -> dict[str, Any]:
    period, cost, rates = _insight_context(team=team, days=days, now=now)
    services = list(service_list(team=team))
    starts = [d for d in (service_regime(service=s, until=period.end).first_day for s in services) if d]
    projection = policy_projection(
        team=team,
        today=period.end.date(),
        keep_share=float(rates["keep_share"]),
        keep_basis=rates["policy_basis"],
        regime_start=max(starts) if starts else None,
    )
    return {
        "team": team.name,
        "demo": bool((team.config or {}).get("demo")),
        "cost": {
            "currency": cost.currency,
            "period": _period_dict(period),
            "before": cost.before,
            "after": cost.after,
            "savings": cost.savings,
            "savings_share": _share(cost.savings, cost.before),
            "bytes_before": cost.bytes_before,
            "bytes_after": cost.bytes_after,
            "services": [
                {
                    "service": s.service,
                    "before": s.before,
                    "after": s.after,
                    "savings": s.savings,
                    "bytes_before": s.bytes_before,
                    "bytes_after": s.bytes_after,
                }
                for s in cost.services
            ],
        },
        "run_rate": rates,
        "proof": [
            {"service": s.name, **proof}
            for s in services
            if (proof := service_proof(service=s, until=period.end)) is not None
        ],
        "incidents": incidents_recent(team=team, since=period.end - timedelta(days=7)),
        "projection": policy_projection_dict(projection),
    }


def _savings_check(service: Service) -> dict[str, Any] | None:
    version = policy_active(service=service)
    if version is None:
        return None
    check = policy_savings_agreement(version=version)
    return {"policy_version": version.number, **check.__dict__, "agrees": check.agrees}


def service_insights(
    *, service: Service, days: int = DEFAULT_PERIOD_DAYS, now: datetime | None = None
) -> dict[str, Any]:
    team = service.team
    period, cost, rates = _insight_context(team=team, days=days, now=now)
    row = cost.service(service.name)
    rate_row = next(r for r in rates["services"] if r["service"] == service.name)
    pricing = team_pricing(team=team)
    regime = service_regime(service=service, until=period.end)
    projection = policy_projection(
        team=team,
        service=service,
        today=period.end.date(),
        keep_share=regime.keep_share,
        keep_basis=regime.basis,
        regime_start=regime.first_day,
        price_per_gb=pricing.average_price_per_gb(gigabytes(Decimal(rates["with_policy_bytes"]))),
        counterfactual_price_per_gb=pricing.average_price_per_gb(gigabytes(Decimal(rates["without_bytes"]))),
    )
    zero = Decimal(0)
    before, after = (row.before, row.after) if row else (zero, zero)
    anomalies = [
        {
            "id": a.pk,
            "kind": a.kind,
            "severity": a.severity,
            "pattern": a.pattern.pattern_id if a.pattern else None,
            "template": a.pattern.template if a.pattern else None,
            "window_start": a.window_start,
            "window_end": a.window_end,
            "observed": a.observed,
            "expected": a.expected,
            "score": a.score,
            "confidence": a.confidence,
            "incident": a.incident,
        }
        for a in anomalies_recent(service=service, since=period.end - timedelta(days=7))
    ]
    return {
        "service": service.name,
        "cost": {
            "currency": cost.currency,
            "period": _period_dict(period),
            "before": before,
            "after": after,
            "savings": before - after,
            "savings_share": _share(before - after, before),
            "bytes_before": row.bytes_before if row else 0,
            "bytes_after": row.bytes_after if row else 0,
            "patterns": [
                {
                    "pattern": p.pattern,
                    "template": p.template,
                    "bytes_before": p.bytes_before,
                    "bytes_after": p.bytes_after,
                    "before": p.before,
                    "after": p.after,
                    "savings": p.savings,
                }
                for p in (row.patterns if row else ())
            ],
        },
        "demo": bool((team.config or {}).get("demo")),
        "run_rate": rate_row,
        "proof": service_proof(service=service, until=period.end),
        "incidents": incidents_recent(team=team, service=service, since=period.end - timedelta(days=7)),
        "projection": policy_projection_dict(projection),
        "savings_check": _savings_check(service),
        "anomalies": anomalies,
        "recommendations": [r.__dict__ for r in service_recommendations(service=service, period=period, cost=cost)],
    }


# --- run-rates under the policy in force, the proof, and the projection that knows the policy history ---------------

# Below this many hours of SDK counts since a policy took effect, its share kept comes from its simulation.
MIN_MEASURED_HOURS = 24


@dataclass(frozen=True)
class PolicyRegime:
    """The policy now in force for a service and the share of bytes it keeps, with where that share comes from."""

    version: int | None
    since: datetime | None
    keep_share: float
    basis: str  # measured | simulated | no_policy | unknown
    agreement: SavingsAgreement | None
    sdk_hours: int

    @property
    def first_day(self) -> date | None:
        if self.since is None:
            return None
        moment = self.since.astimezone(UTC)
        return regime_first_day(moment.date(), midnight=moment.time() == datetime.min.time())


def service_regime(*, service: Service, until: datetime | None = None) -> PolicyRegime:
    version = policy_active(service=service)
    if version is None:
        return PolicyRegime(None, None, 1.0, "no_policy", None, 0)
    since = version.published_at or version.created_at
    agreement = policy_savings_agreement(version=version, until=until)
    windows = pattern_windows_in_range(service=service, start=since).filter(WINDOW_HAS_SDK)
    if until is not None:
        windows = windows.filter(bucket_start__lt=until)
    hours = windows.values("bucket_start").distinct().count()
    if agreement.measured_reduction is not None and hours >= MIN_MEASURED_HOURS:
        return PolicyRegime(version.number, since, 1 - agreement.measured_reduction, "measured", agreement, hours)
    if agreement.predicted_reduction is not None:
        return PolicyRegime(version.number, since, 1 - agreement.predicted_reduction, "simulated", agreement, hours)
    return PolicyRegime(version.number, since, 1.0, "unknown", agreement, hours)


def format_bytes(value: float) -> str:
    """Bytes for a sentence: 1,000-based units, three significant digits."""
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.3g} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def _regime_basis(regime: PolicyRegime) -> str:
    if regime.basis == "no_policy":
        return "no policy in force: everything seen is sent"
    since = f"v{regime.version} in force since {regime.since:%Y-%m-%d %H:%M} UTC" if regime.since else ""
    check = regime.agreement
    if regime.basis == "measured" and check is not None:
        return (
            f"{since}: keeps {regime.keep_share:.1%} of bytes, measured from {regime.sdk_hours} h of SDK counts "
            f"({format_bytes(check.bytes_kept)} kept of {format_bytes(check.bytes_seen)} seen)"
        )
    if regime.basis == "simulated":
        hours = f"only {regime.sdk_hours} h of SDK counts so far" if regime.sdk_hours else "no SDK counts yet"
        return f"{since}: keeps {regime.keep_share:.1%} of bytes by its simulation ({hours})"
    return f"{since}: no simulation and no SDK counts yet, counted as keeping everything"


def _combined_basis(bases: Sequence[str]) -> str:
    kinds = set(bases)
    return kinds.pop() if len(kinds) == 1 else "mixed"


def run_rates(*, team: Team, period: Period, cost: TeamCost) -> dict[str, Any]:
    """Monthly dollars without LipService and under the policies now in force, the saving, and what was saved so far
    this month; per service and for the team, each with the sentence saying what it is computed from.

    Tiers price the team's whole volume, so the team's dollars are priced once and shared out by bytes (as cost is).
    """
    pricing = team_pricing(team=team)
    factor = period.month_factor
    days = period.observed_seconds / 86_400
    services = list(service_list(team=team))
    regimes = {s.name: service_regime(service=s, until=period.end) for s in services}
    seen = {row.service: row.bytes_before for row in cost.services}
    without_bytes = [Decimal(seen.get(s.name, 0)) * factor for s in services]
    with_bytes = [
        b * Decimal(str(round(regimes[s.name].keep_share, 9))) for s, b in zip(services, without_bytes, strict=True)
    ]
    month_start = datetime.combine(period.end.date().replace(day=1), datetime.min.time(), tzinfo=UTC)
    mtd_before: list[float] = []
    mtd_after: list[float] = []
    for service in services:
        month = pattern_bytes(service=service, start=month_start, end=period.end).values()
        mtd_before.append(sum(r.bytes_before for r in month))
        mtd_after.append(sum(r.bytes_after for r in month))
    team_without = pricing.monthly_cost(gigabytes(sum(without_bytes, Decimal(0))))
    team_with = pricing.monthly_cost(gigabytes(sum(with_bytes, Decimal(0))))
    team_mtd_before = pricing.monthly_cost(gigabytes(Decimal(round(sum(mtd_before)))))
    team_mtd_after = pricing.monthly_cost(gigabytes(Decimal(round(sum(mtd_after)))))
    weights = [int(b) for b in without_bytes]
    service_without = allocate(team_without, weights)
    service_with = allocate(team_with, [int(b) for b in with_bytes])
    service_mtd_before = allocate(team_mtd_before, [round(b) for b in mtd_before])
    service_mtd_after = allocate(team_mtd_after, [round(b) for b in mtd_after])
    seen_basis = (
        f"volume seen over {days:.1f} days (SDK seen counts where reported, else the analysed logs), scaled to 30 days"
    )
    mtd_basis = (
        f"bytes seen against bytes sent since {month_start:%Y-%m-%d} (SDK counts where reported), priced as a month"
    )
    rows: list[dict[str, Any]] = []
    for index, service in enumerate(services):
        regime = regimes[service.name]
        saving = service_without[index] - service_with[index]
        rows.append(
            {
                "service": service.name,
                "currency": pricing.currency,
                "without": service_without[index],
                "without_bytes": round(without_bytes[index]),
                "without_basis": seen_basis,
                "with_policy": service_with[index],
                "with_policy_bytes": round(with_bytes[index]),
                "with_policy_basis": _regime_basis(regime),
                "policy_basis": regime.basis,
                "policy_version": regime.version,
                "policy_since": regime.since,
                "keep_share": round(regime.keep_share, 6),
                "saving": saving,
                "saving_share": _share(saving, service_without[index]),
                "saved_this_month": service_mtd_before[index] - service_mtd_after[index],
                "saved_this_month_bytes": round(mtd_before[index] - mtd_after[index]),
                "saved_this_month_basis": mtd_basis,
            }
        )
    total_without = sum(without_bytes, Decimal(0))
    total_with = sum(with_bytes, Decimal(0))
    bases = [r.basis for r in regimes.values() if r.basis != "no_policy"]
    saving = team_without - team_with
    return {
        "currency": pricing.currency,
        "without": team_without,
        "without_bytes": round(total_without),
        "without_basis": seen_basis,
        "with_policy": team_with,
        "with_policy_bytes": round(total_with),
        "with_policy_basis": (
            f"{len(bases)} of {len(services)} services under a policy; each service's share kept "
            + ("measured from SDK counts" if set(bases) == {"measured"} else "measured from SDK counts, else simulated")
            if bases
            else "no policy in force: everything seen is sent"
        ),
        "policy_basis": _combined_basis(bases) if bases else "no_policy",
        "keep_share": round(float(total_with / total_without), 6) if total_without > 0 else 1.0,
        "saving": saving,
        "saving_share": _share(saving, team_without),
        "saved_this_month": team_mtd_before - team_mtd_after,
        "saved_this_month_bytes": round(sum(mtd_before) - sum(mtd_after)),
        "saved_this_month_basis": mtd_basis,
        "services": rows,
    }


def service_proof(*, service: Service, until: datetime | None = None) -> dict[str, Any] | None:
    """The active policy's promise against what the SDK counted since it took effect: bytes, errors, patterns kept."""
    version = policy_active(service=service)
    if version is None:
        return None
    since = version.published_at or version.created_at
    check = policy_savings_agreement(version=version, until=until)
    windows = pattern_windows_in_range(service=service, start=since).filter(WINDOW_HAS_SDK)
    if until is not None:
        windows = windows.filter(bucket_start__lt=until)
    error_patterns = [
        p.pk for p in patterns_of_service(service=service) if p.error_count and pattern_dominant_severity(p) == "ERROR"
    ]
    errors = windows.filter(pattern_id__in=error_patterns).aggregate(seen=Sum("sdk_seen"), kept=Sum("sdk_kept"))
    losses = delivery_losses(service=service, start=since, stop=until)
    per_pattern = windows.values("pattern_id").annotate(kept=Sum("sdk_kept"))
    predicted = check.predicted_reduction
    band = predicted * check.tolerance if predicted is not None else None
    return {
        "policy_version": version.number,
        "since": since,
        "sdk_hours": windows.values("bucket_start").distinct().count(),
        "predicted_reduction": predicted,
        "measured_reduction": check.measured_reduction,
        "band_low": None if band is None or predicted is None else max(0.0, predicted - band),
        "band_high": None if band is None or predicted is None else min(1.0, predicted + band),
        "tolerance": check.tolerance,
        "agrees": check.agrees,
        "drift": check.agrees is False,
        "bytes_seen": check.bytes_seen,
        "bytes_kept": check.bytes_kept,
        "errors_seen": errors["seen"] or 0,
        "errors_kept": errors["kept"] or 0,
        # Kept is what the policy kept; what of it never reached PostHog, as the SDKs counted and reported it.
        "errors_lost": losses["errors_lost"] + losses["shed_errors"],
        "lines_shed": losses["shed"] + losses["shed_errors"],
        "lines_lost": losses["export_failed"],
        "spool_files_corrupt": losses["spool_corrupt"],
        "patterns_reported": len(per_pattern),
        "patterns_kept": sum(1 for row in per_pattern if row["kept"]),
    }


def daily_bytes(
    *, services: Sequence[Service], today: date, days: int = PROJECTION_HISTORY_DAYS
) -> tuple[date | None, list[float], list[float]]:
    """Complete UTC days of bytes produced (without LipService) and sent, consecutive and zero-filled, ending
    yesterday; per window as `pattern_bytes` counts them (SDK seen/kept, else analysed, re-weighted when the source
    saw only kept lines). A first day whose data starts after midnight is partial and left out, as is today."""
    start = datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=UTC)
    stop = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    windows = pattern_windows_in_range(services=services, start=start, stop=stop)
    first = windows.aggregate(first=Min("bucket_start"))["first"]
    if first is None:
        return None, [], []
    without: dict[date, float] = {}
    sent: dict[date, float] = {}
    for service in services:
        times, documents = _policy_timeline(service) if service.source_kind in KEPT_ONLY_SOURCES else ([], [])
        mine = windows.filter(service=service)
        sdk = (
            mine.filter(WINDOW_HAS_SDK)
            .annotate(day=TruncDate("bucket_start", tzinfo=UTC))
            .values("day")
            .annotate(seen=Sum("sdk_bytes_seen"), kept=Sum("sdk_bytes_kept"))
        )
        for row in sdk:
            without[row["day"]] = without.get(row["day"], 0.0) + float(row["seen"] or 0)
            sent[row["day"]] = sent.get(row["day"], 0.0) + float(row["kept"] or 0)
        analysed = mine.exclude(WINDOW_HAS_SDK)
        if not times:
            for row in (
                analysed.annotate(day=TruncDate("bucket_start", tzinfo=UTC)).values("day").annotate(b=Sum("bytes"))
            ):
                without[row["day"]] = without.get(row["day"], 0.0) + float(row["b"] or 0)
                sent[row["day"]] = sent.get(row["day"], 0.0) + float(row["b"] or 0)
            continue
        patterns = {p.pk: p for p in patterns_of_service(service=service)}
        for window in analysed.only("pattern_id", "bucket_start", "bytes", "count", "errors"):
            index = bisect.bisect_right(times, window.bucket_start) - 1
            rate = _rate_in(documents[index], patterns[window.pattern_id]) if index >= 0 else 1.0
            rate = min(max(rate, 1e-6), 1.0)
            error_bytes = window.bytes * (min(1.0, window.errors / window.count) if window.count else 0.0)
            day = window.bucket_start.astimezone(UTC).date()
            without[day] = without.get(day, 0.0) + error_bytes + (window.bytes - error_bytes) / rate
            sent[day] = sent.get(day, 0.0) + window.bytes
    first_utc = first.astimezone(UTC)
    first_day = first_utc.date() + (timedelta(days=1) if first_utc.time() != datetime.min.time() else timedelta(0))
    count = (today - first_day).days
    if count <= 0:
        return None, [], []
    dates = [first_day + timedelta(days=i) for i in range(count)]
    return first_day, [without.get(d, 0.0) for d in dates], [sent.get(d, 0.0) for d in dates]


@dataclass(frozen=True)
class PolicyProjection:
    projection: RegimeProjection | None
    month_end_cost: Decimal
    counterfactual_cost: Decimal
    currency: str
    keep_basis: str


def policy_projection(
    *,
    team: Team,
    today: date,
    keep_share: float,
    keep_basis: str,
    regime_start: date | None,
    service: Service | None = None,
    price_per_gb: Decimal | None = None,
    counterfactual_price_per_gb: Decimal | None = None,
) -> PolicyProjection:
    """Month-end bytes and dollars under the policy in force, and without LipService. The team's bytes are priced at
    its tiers; a service's at the given average prices per GB (the team's, at its volume with and without)."""
    pricing = team_pricing(team=team)
    scope = [service] if service is not None else list(service_list(team=team))
    start, without, sent = daily_bytes(services=scope, today=today)
    if start is None or len(without) < 2:
        return PolicyProjection(None, Decimal(0), Decimal(0), pricing.currency, keep_basis)
    result = project_month_with_policy(
        without, sent, start=start, today=today, regime_start=regime_start, keep_share=keep_share
    )
    if service is None:
        return PolicyProjection(
            result,
            pricing.monthly_cost(gigabytes(Decimal(round(result.projected_total)))),
            pricing.monthly_cost(gigabytes(Decimal(round(result.counterfactual_total)))),
            pricing.currency,
            keep_basis,
        )
    return PolicyProjection(
        result,
        money(gigabytes(Decimal(round(result.projected_total))) * (price_per_gb or Decimal(0))),
        money(gigabytes(Decimal(round(result.counterfactual_total))) * (counterfactual_price_per_gb or Decimal(0))),
        pricing.currency,
        keep_basis,
    )


def policy_projection_dict(result: PolicyProjection) -> dict[str, Any]:
    projection = result.projection
    backtest = projection.backtest if projection else None
    regime_start = projection.regime_start if projection else None
    return {
        "method": "produced volume: theil-sen trend x day-of-week factors; sent: that x the share the policy keeps",
        "month_start": projection.month_start if projection else None,
        "month_end": projection.month_end if projection else None,
        "series": [
            {"date": p.day, "bytes": p.sent, "bytes_without": p.without, "forecast": p.forecast}
            for p in projection.series
        ]
        if projection
        else [],
        "actual_to_date_bytes": projection.sent_to_date if projection else 0.0,
        "month_end_bytes": projection.projected_total if projection else 0.0,
        "month_end_gb": float(gigabytes(Decimal(round(projection.projected_total)))) if projection else 0.0,
        "month_end_cost": result.month_end_cost,
        "counterfactual_bytes": projection.counterfactual_total if projection else 0.0,
        "counterfactual_cost": result.counterfactual_cost,
        "currency": result.currency,
        "regime_start": regime_start,
        "keep_share": projection.keep_share if projection else 1.0,
        "keep_basis": result.keep_basis,
        "backtest": backtest.__dict__ if backtest else None,
        "backtest_scope": (
            f"current regime, since {regime_start:%Y-%m-%d}" if regime_start else "no policy change: whole history"
        ),
    }


def incidents_recent(*, team: Team, service: Service | None = None, since: datetime) -> list[dict[str, Any]]:
    """Incidents with their anomalies, explanation, and the alert that went out or would have (no channel set)."""
    query = Incident.objects.filter(team=team, window_end__gte=since).select_related("service", "team")
    if service is not None:
        query = query.filter(service=service)
    out: list[dict[str, Any]] = []
    for incident in query.order_by("-window_start")[:20]:
        members = list(incident.anomalies.select_related("pattern").order_by("window_start", "id"))
        channels = alert_channels_for(team=team, service=incident.service)
        sent = AlertDelivery.objects.filter(incident=incident).select_related("channel").order_by("created_at")
        explanation = incident.explanation or {}
        out.append(
            {
                "id": incident.pk,
                "service": incident.service.name,
                "severity": incident.severity,
                "status": incident.status,
                "title": incident.title,
                "window_start": incident.window_start,
                "window_end": incident.window_end,
                "explanation": explanation,
                "anomalies": [
                    {
                        "kind": a.kind,
                        "severity": a.severity,
                        "pattern": a.pattern.pattern_id if a.pattern else None,
                        "template": a.pattern.template if a.pattern else None,
                        "observed": a.observed,
                        "expected": a.expected,
                    }
                    for a in members
                ],
                "alert": {
                    "channels": [c.name for c in channels],
                    "deliveries": [{"channel": d.channel.name, "status": d.status} for d in sent],
                    "would_send": not channels,
                    "summary": incident.title or f"{incident.severity} incident in {incident.service.name}",
                    "likely_causes": list(explanation.get("likely_causes", []))[:5],
                    "debugging_steps": list(explanation.get("debugging_steps", []))[:5],
                },
            }
        )
    return out
