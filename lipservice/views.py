"""Project-level API views: liveness and readiness."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework import serializers, status
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lipservice.authentication import HasTeam, ScopedAccess, request_team
from lipservice.errors import error_body
from lipservice.health import readiness
from lipservice.metrics import refresh_gauges
from lipservice.metrics import render as render_metrics
from lipservice.models import ApiKey
from lipservice.selectors import user_is_team_admin
from lipservice.serializers import TeamConnectionSerializer


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    @extend_schema(
        summary="Liveness",
        responses=inline_serializer("Health", {"status": serializers.CharField()}),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    @extend_schema(
        summary="Readiness: database, cache and broker",
        responses={
            200: inline_serializer("Ready", {"status": serializers.CharField(), "checks": serializers.DictField()}),
            503: inline_serializer(
                "NotReady",
                {
                    "error": inline_serializer(
                        "NotReadyError",
                        {
                            "code": serializers.CharField(),
                            "message": serializers.CharField(),
                            "details": serializers.DictField(),
                        },
                    )
                },
            ),
        },
        auth=[],
    )
    def get(self, request: Request) -> Response:
        healthy, checks = readiness()
        if healthy:
            return Response({"status": "ready", "checks": checks})
        failed = [name for name, result in checks.items() if not result["ok"]]
        message = f"Not ready: {', '.join(failed)} unreachable."
        return Response(
            error_body("not_ready", message, {"failed": failed, "checks": checks}),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )


class IsTeamAdminForWrites(BasePermission):
    """Reads for any member or key of the team; changing connection settings needs a team admin's session."""

    message = "Changing team settings needs a logged-in team admin; API keys may only read them."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        if getattr(user, "is_superuser", False):
            return True
        team = request_team(request)
        return team is not None and not isinstance(request.auth, ApiKey) and user_is_team_admin(user=user, team=team)


class TeamView(APIView):
    permission_classes = [HasTeam, ScopedAccess, IsTeamAdminForWrites]

    @extend_schema(
        summary="The team's PostHog and ClickHouse connection (secrets masked)", responses=TeamConnectionSerializer
    )
    def get(self, request: Request) -> Response:
        return Response(TeamConnectionSerializer(request.team).data)  # type: ignore[attr-defined]

    @extend_schema(
        summary="Change the team's connection settings",
        request=TeamConnectionSerializer,
        responses=TeamConnectionSerializer,
    )
    def patch(self, request: Request) -> Response:
        serializer = TeamConnectionSerializer(request.team, data=request.data, partial=True)  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.LIPSERVICE_METRICS_TOKEN
    if settings.PRODUCTION and not token:
        # Metrics name every team's services: in production they are never public.
        return HttpResponse("metrics need LIPSERVICE_METRICS_TOKEN to be set in production\n", status=403)
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("metrics need Authorization: Bearer <LIPSERVICE_METRICS_TOKEN>\n", status=401)
    refresh_gauges()
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
