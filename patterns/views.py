"""Thin API views for services and patterns."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lipservice.errors import DomainError, ServiceUnavailable
from lipservice.serializers import ConnectionReportSerializer
from patterns.analysis import analysis_run_create, analysis_run_enqueue
from patterns.connections import team_connection_test
from patterns.models import AnalysisRun
from patterns.selectors import analysis_run_get, service_get, service_list
from patterns.serializers import (
    MAX_STATS_ENTRIES,
    AnalysisRunOutputSerializer,
    AnalyzeInputSerializer,
    ServiceOutputSerializer,
    StatsBatchInputSerializer,
    StatsBatchOutputSerializer,
)
from patterns.services import DeliveryLosses, StatsEntry, pattern_stats_ingest
from patterns.tasks import analyze_lines, analyze_window


class ServiceListView(ListAPIView):  # type: ignore[type-arg]
    serializer_class = ServiceOutputSerializer

    @extend_schema(summary="Services of the key's team")
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return service_list(team=self.request.team)  # type: ignore[attr-defined]


class ServiceDetailView(APIView):
    @extend_schema(summary="One service of the key's team", responses=ServiceOutputSerializer)
    def get(self, request: Request, name: str) -> Response:
        service = service_get(team=request.team, name=name)  # type: ignore[attr-defined]
        return Response(ServiceOutputSerializer(service).data)


MAX_STATS_BODY_BYTES = 5_000_000


class PayloadTooLarge(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class StatsIngestView(APIView):
    sdk_methods = ("POST",)

    @extend_schema(
        summary="SDK per-pattern counts (seen, kept, bytes per minute) and delivery losses; idempotent by batch_id",
        request=StatsBatchInputSerializer,
        responses={202: StatsBatchOutputSerializer, 413: OpenApiResponse(description="Batch too large")},
    )
    def post(self, request: Request) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_STATS_BODY_BYTES:
            raise PayloadTooLarge(f"A stats batch may be at most {MAX_STATS_BODY_BYTES:,} bytes; split it.")
        entries = request.data.get("stats") if isinstance(request.data, dict) else None
        if isinstance(entries, list) and len(entries) > MAX_STATS_ENTRIES:
            raise PayloadTooLarge(f"A stats batch may hold at most {MAX_STATS_ENTRIES} entries; split it.")
        payload = StatsBatchInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        service = service_get(team=request.team, name=data["service"])  # type: ignore[attr-defined]
        sdk = data.get("sdk") or {}
        result = pattern_stats_ingest(
            service=service,
            batch_id=data["batch_id"],
            entries=[StatsEntry(**entry) for entry in data["stats"]],
            sdk=f"{sdk.get('name', '')} {sdk.get('version', '')}".strip(),
            losses=DeliveryLosses(**data.get("losses", {})),
        )
        body = StatsBatchOutputSerializer({"accepted": result.accepted, "duplicate": result.duplicate}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class AnalyzeView(APIView):
    @extend_schema(
        summary="Analyse posted lines or a window of the service's source; runs as a task and returns the run",
        request=AnalyzeInputSerializer,
        responses={202: AnalysisRunOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        payload = AnalyzeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        service = service_get(team=request.team, name=data["service"])  # type: ignore[attr-defined]
        if data.get("lines"):
            run = analysis_run_create(service=service, start=None, end=None, method="records", source_kind="api")
            lines = [
                {
                    "message": line["message"],
                    "severity": line.get("severity", ""),
                    "timestamp": line["timestamp"].isoformat() if line.get("timestamp") else "",
                    "trace_id": line.get("trace_id", ""),
                }
                for line in data["lines"]
            ]
            task, kwargs = analyze_lines, {"run_id": run.pk, "service": service.name, "lines": lines}
        else:
            run = analysis_run_create(service=service, start=data["start"], end=data["end"], method=data["method"])
            task, kwargs = analyze_window, {"run_id": run.pk}
        run_id = run.pk
        queued: list[bool] = []
        transaction.on_commit(
            lambda: queued.append(analysis_run_enqueue(run_id=run_id, send=lambda: task.delay(**kwargs))), robust=True
        )
        if transaction.get_autocommit():
            run.refresh_from_db()
        if queued == [False]:
            raise ServiceUnavailable(
                f"The job queue is unreachable, so analysis run {run_id} was not started (it is marked failed). "
                "Retry shortly.",
                details={"run": run_id},
            )
        return Response(
            AnalysisRunOutputSerializer(run).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/patterns/runs/{run_id}"},
        )


class AnalysisRunView(APIView):
    @extend_schema(summary="One analysis run", responses=AnalysisRunOutputSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run: AnalysisRun = analysis_run_get(team=request.team, run_id=run_id)  # type: ignore[attr-defined]
        return Response(AnalysisRunOutputSerializer(run).data)


class TeamConnectionTestView(APIView):
    @extend_schema(
        summary="Probe what the team's connections can do (reads only)",
        request=None,
        responses=ConnectionReportSerializer,
    )
    def post(self, request: Request) -> Response:
        return Response(team_connection_test(team=request.team))  # type: ignore[attr-defined]
