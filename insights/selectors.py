"""Reads for insights: pricing, before/after bytes, daily series, cost, projections, recommendations, incidents."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, F, Min, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from insights.engine.agreement import SavingsAgreement, savings_agreement
from insights.engine.cost import TeamCost, Usage, cost_breakdown
from insights.engine.pricing import DAYS_PER_MONTH, Pricing, PricingError, gigabytes
from insights.engine.projection import MonthProjection, project_month
from insights.engine.recommend import PatternVolume, Recommendation, recommend
from insights.models import AlertChannel, AlertDelivery, Anomaly, Incident
from lipservice.errors import DomainError
from lipservice.models import Team
from patterns.models import Pattern, PatternWindow, Service
from policies.models import PolicyVersion
from policies.selectors import team_price_table

DEFAULT_PERIOD_DAYS = 30
PROJECTION_HISTORY_DAYS = 56
# Sources that read what already reached PostHog: they saw only kept lines, which are re-weighted by 1/rate.
KEPT_ONLY_SOURCES = frozenset({Service.SourceKind.POSTHOG, Service.SourceKind.CLICKHOUSE})
_HAS_SDK = Q(sdk_seen__gt=0) | Q(sdk_bytes_seen__gt=0)


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
    first = PatternWindow.objects.filter(service__team=team, bucket_start__gte=start, bucket_start__lt=stop).aggregate(
        first=Min("bucket_start")
    )["first"]
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
    versions = PolicyVersion.objects.filter(service=service, published_at__isnull=False).order_by("published_at")
    return [v.published_at for v in versions if v.published_at], [v.document for v in versions]


def pattern_bytes(*, service: Service, start: datetime, end: datetime) -> dict[int, PatternBytes]:
    """Bytes each pattern produced (before) and sent (after) in [start, end).

    Per window: SDK counts when the SDK reported (seen = before, kept = after). Otherwise the analysis counts: a
    source reading from PostHog saw only kept lines, so before = error bytes + other bytes / rate of the policy in
    force at that hour; a source that reads the application's own logs (files) saw everything, nothing dropped.
    """
    windows = PatternWindow.objects.filter(service=service, bucket_start__gte=start, bucket_start__lt=end)
    out: dict[int, PatternBytes] = {}
    sdk_rows = (
        windows.filter(_HAS_SDK)
        .values("pattern_id")
        .annotate(seen=Sum("sdk_bytes_seen"), kept=Sum("sdk_bytes_kept"), lines=Sum("sdk_seen"), err=Sum("errors"))
    )
    for row in sdk_rows:
        acc = out.setdefault(row["pattern_id"], PatternBytes(row["pattern_id"]))
        acc.bytes_before += row["seen"] or 0
        acc.bytes_after += row["kept"] or 0
        acc.lines_before += row["lines"] or 0
        acc.errors += row["err"] or 0
    analysed = windows.exclude(_HAS_SDK)
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
    patterns = {p.pk: p for p in Pattern.objects.filter(service=service)}
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
    for service in Service.objects.filter(team=team).order_by("name"):
        rows = pattern_bytes(service=service, start=period.start, end=period.end)
        names = dict(Pattern.objects.filter(pk__in=rows).values_list("pk", "pattern_id"))
        templates = dict(Pattern.objects.filter(pk__in=rows).values_list("pk", "template"))
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
    windows = PatternWindow.objects.filter(service__in=services, bucket_start__gte=start, bucket_start__lt=stop)
    first = windows.aggregate(first=Min("bucket_start"))["first"]
    if first is None:
        return None, []
    rows = (
        windows.annotate(day=TruncDate("bucket_start", tzinfo=UTC))
        .values("day")
        .annotate(total=Sum(Case(When(_HAS_SDK, then=F("sdk_bytes_kept")), default=F("bytes"))))
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
    team_services = list(Service.objects.filter(team=team))
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
    version = PolicyVersion.objects.filter(service=service, status=PolicyVersion.Status.ACTIVE).first()
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
    patterns = Pattern.objects.filter(pk__in=rows)
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
    windows = PatternWindow.objects.filter(service=version.service, bucket_start__gte=start).filter(_HAS_SDK)
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


def _projection_dict(result: CostProjection) -> dict[str, Any]:
    projection = result.projection
    return {
        "method": "theil-sen trend x day-of-week factors",
        "month_start": projection.month_start if projection else None,
        "month_end": projection.month_end if projection else None,
        "series": [{"date": p.day, "bytes": p.value, "forecast": p.forecast} for p in projection.series]
        if projection
        else [],
        "actual_to_date_bytes": projection.actual_to_date if projection else 0.0,
        "month_end_bytes": result.month_end_bytes,
        "month_end_gb": float(gigabytes(Decimal(str(round(result.month_end_bytes))))),
        "month_end_cost": result.month_end_cost,
        "currency": result.currency,
        "backtest": projection.backtest.__dict__ if projection and projection.backtest else None,
    }


def team_insights(*, team: Team, days: int = DEFAULT_PERIOD_DAYS, now: datetime | None = None) -> dict[str, Any]:
    period = period_for(team=team, days=days, end=now)
    cost = team_cost(team=team, period=period)
    return {
        "team": team.name,
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
        "projection": _projection_dict(cost_projection(team=team, today=period.end.date())),
    }


def _savings_check(service: Service) -> dict[str, Any] | None:
    version = PolicyVersion.objects.filter(service=service, status=PolicyVersion.Status.ACTIVE).first()
    if version is None:
        return None
    check = policy_savings_agreement(version=version)
    return {"policy_version": version.number, **check.__dict__, "agrees": check.agrees}


def service_insights(
    *, service: Service, days: int = DEFAULT_PERIOD_DAYS, now: datetime | None = None
) -> dict[str, Any]:
    team = service.team
    period = period_for(team=team, days=days, end=now)
    cost = team_cost(team=team, period=period)
    row = cost.service(service.name)
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
        "projection": _projection_dict(cost_projection(team=team, service=service, today=period.end.date())),
        "savings_check": _savings_check(service),
        "anomalies": anomalies,
        "recommendations": [r.__dict__ for r in service_recommendations(service=service, period=period, cost=cost)],
    }
