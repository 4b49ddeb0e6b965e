"""Reads for services and patterns; every read is scoped to a team."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet, Sum

from lipservice.errors import NotFound
from lipservice.models import Team
from patterns.models import AnalysisRun, Pattern, PatternWindow, Service


def service_list(*, team: Team) -> QuerySet[Service]:
    return Service.objects.filter(team=team).order_by("name")


def service_get(*, team: Team, name: str) -> Service:
    service = Service.objects.filter(team=team, name=name).first()
    if service is None:
        raise NotFound(f"No service named {name!r} in this team.")
    return service


def pattern_list_for_service(*, service: Service) -> QuerySet[Pattern]:
    return Pattern.objects.filter(service=service).order_by("-bytes", "-count", "pattern_id")


def pattern_get(*, service: Service, pattern_id: str) -> Pattern:
    pattern = Pattern.objects.filter(service=service, pattern_id=pattern_id).first()
    if pattern is None:
        raise NotFound(f"Service {service.name!r} has no pattern {pattern_id!r}.")
    return pattern


def pattern_windows(*, pattern: Pattern, since: datetime | None = None) -> QuerySet[PatternWindow]:
    windows = PatternWindow.objects.filter(pattern=pattern).order_by("bucket_start")
    return windows.filter(bucket_start__gte=since) if since else windows


def service_total_bytes(*, service: Service) -> int:
    return int(Pattern.objects.filter(service=service).aggregate(total=Sum("bytes"))["total"] or 0)


def analysis_run_get(*, team: Team, run_id: int) -> AnalysisRun:
    run = AnalysisRun.objects.select_related("service").filter(service__team=team, pk=run_id).first()
    if run is None:
        raise NotFound(f"No analysis run {run_id} in this team.")
    return run
