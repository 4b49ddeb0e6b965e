"""Thin API views: cost, projection, anomalies and recommendations per team and per service; the team's pricing."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from insights.selectors import service_insights, team_insights, team_pricing
from insights.serializers import (
    InsightsQuerySerializer,
    PricingInputSerializer,
    PricingSerializer,
    ServiceInsightsSerializer,
    TeamInsightsSerializer,
)
from insights.services.pricing import team_pricing_set
from patterns.selectors import service_get

DAYS = OpenApiParameter("days", int, description="Trailing days the cost covers (1-90, default 30).")


def _days(request: Request) -> int:
    query = InsightsQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return int(query.validated_data["days"])


class TeamInsightsView(APIView):
    @extend_schema(
        operation_id="insights_team",
        summary="Team run-rates without LipService and under the policies in force, proof, incidents, projection",
        parameters=[DAYS],
        responses=TeamInsightsSerializer,
    )
    def get(self, request: Request) -> Response:
        data = team_insights(team=request.team, days=_days(request))  # type: ignore[attr-defined]
        return Response(TeamInsightsSerializer(data).data)


class ServiceInsightsView(APIView):
    @extend_schema(
        operation_id="insights_service",
        summary="A service's cost, projection with backtest error, anomalies and recommendations",
        parameters=[DAYS],
        responses=ServiceInsightsSerializer,
    )
    def get(self, request: Request, service: str) -> Response:
        found = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        data = service_insights(service=found, days=_days(request))
        return Response(ServiceInsightsSerializer(data).data)


class PricingView(APIView):
    @extend_schema(
        operation_id="pricing_get",
        summary="The team's price table (tiers per GB ingested, retention)",
        responses=PricingSerializer,
    )
    def get(self, request: Request) -> Response:
        pricing = team_pricing(team=request.team)  # type: ignore[attr-defined]
        return Response(PricingSerializer(pricing.as_dict()).data)

    @extend_schema(
        operation_id="pricing_set",
        summary="Set (or with null, reset) the team's price table",
        request=PricingInputSerializer,
        responses=PricingSerializer,
    )
    def put(self, request: Request) -> Response:
        payload = PricingInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        pricing = team_pricing_set(team=request.team, pricing=payload.validated_data["pricing"])  # type: ignore[attr-defined]
        return Response(PricingSerializer(pricing.as_dict()).data)
