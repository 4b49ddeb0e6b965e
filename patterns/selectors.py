"""Reads for services and patterns; every read is scoped to a team."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Q, QuerySet, Sum

from lipservice.errors import NotFound
from lipservice.models import Team
from patterns.models import (
    ANY_DELIVERY_LOSS,
    DELIVERY_LOSS_FIELDS,
    AnalysisRun,
    Pattern,
    PatternWindow,
    Service,
    StatsBatch,
)

# Sources that read what already reached PostHog: they saw only kept lines, which are re-weighted by 1/rate.
KEPT_ONLY_SOURCES = frozenset({Service.SourceKind.POSTHOG, Service.SourceKind.CLICKHOUSE})
# A window the SDK reported on: its counts are what the application saw and kept, not what an analysis read.
WINDOW_HAS_SDK = Q(sdk_seen__gt=0) | Q(sdk_bytes_seen__gt=0)


def service_list(*, team: Team) -> QuerySet[Service]:
    return Service.objects.filter(team=team).order_by("name")


def service_ids() -> list[int]:
    return list(Service.objects.values_list("pk", flat=True))


def service_get_by_id(*, service_id: int) -> Service:
    return Service.objects.select_related("team").get(pk=service_id)


def service_list_for_team_name(*, team_name: str) -> QuerySet[Service]:
    return Service.objects.filter(team__name=team_name).select_related("team")


def service_get(*, team: Team, name: str) -> Service:
    service = Service.objects.filter(team=team, name=name).first()
    if service is None:
        raise NotFound(f"No service named {name!r} in this team.")
    return service


def pattern_list_for_service(*, service: Service) -> QuerySet[Pattern]:
    return Pattern.objects.filter(service=service).order_by("-bytes", "-count", "pattern_id")


def patterns_of_service(*, service: Service, pks: Iterable[int] | None = None) -> QuerySet[Pattern]:
    """The service's patterns (only those with the given primary keys, when given), in no particular order."""
    patterns = Pattern.objects.filter(service=service)
    return patterns if pks is None else patterns.filter(pk__in=pks)


def pattern_get(*, service: Service, pattern_id: str) -> Pattern:
    pattern = Pattern.objects.filter(service=service, pattern_id=pattern_id).first()
    if pattern is None:
        raise NotFound(f"Service {service.name!r} has no pattern {pattern_id!r}.")
    return pattern


def pattern_windows(*, pattern: Pattern, since: datetime | None = None) -> QuerySet[PatternWindow]:
    windows = PatternWindow.objects.filter(pattern=pattern).order_by("bucket_start")
    return windows.filter(bucket_start__gte=since) if since else windows


def pattern_windows_in_range(
    *,
    start: datetime,
    stop: datetime | None = None,
    team: Team | None = None,
    service: Service | None = None,
    services: Sequence[Service] | None = None,
) -> QuerySet[PatternWindow]:
    """Windows starting in [start, stop) (no end when `stop` is None), of one team, one service or several."""
    if team is None and service is None and services is None:
        raise ValueError("pattern windows are read for a team, a service or a list of services")
    windows = PatternWindow.objects.filter(bucket_start__gte=start)
    if stop is not None:
        windows = windows.filter(bucket_start__lt=stop)
    if team is not None:
        windows = windows.filter(service__team=team)
    if service is not None:
        windows = windows.filter(service=service)
    if services is not None:
        windows = windows.filter(service__in=services)
    return windows


def delivery_losses(*, service: Service, start: datetime, stop: datetime | None = None) -> dict[str, int]:
    """The delivery losses a service's SDKs reported in batches received in [start, stop), summed per counter."""
    batches = StatsBatch.objects.filter(ANY_DELIVERY_LOSS, service=service, received_at__gte=start)
    if stop is not None:
        batches = batches.filter(received_at__lt=stop)
    sums = batches.aggregate(**{name: Sum(name) for name in DELIVERY_LOSS_FIELDS})
    return {name: int(sums[name] or 0) for name in DELIVERY_LOSS_FIELDS}


def service_total_bytes(*, service: Service) -> int:
    return int(Pattern.objects.filter(service=service).aggregate(total=Sum("bytes"))["total"] or 0)


def analysis_run_get(*, team: Team, run_id: int) -> AnalysisRun:
    run = AnalysisRun.objects.select_related("service").filter(service__team=team, pk=run_id).first()
    if run is None:
        raise NotFound(f"No analysis run {run_id} in this team.")
    return run
