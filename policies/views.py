"""Thin API views for policy distribution: read (cached, ETag), publish, history, diff, rollback."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lipservice.authentication import ApiKeyUser
from lipservice.errors import NotFound
from patterns.selectors import pattern_get, pattern_list_for_service, pattern_windows, service_get, service_total_bytes
from patterns.serializers import PatternDetailOutputSerializer, PatternOutputSerializer
from policies.diff import policy_diff
from policies.read import policy_answer, policy_entry
from policies.selectors import policy_active, policy_rules_by_pattern, policy_version_get, policy_versions
from policies.serializers import (
    PolicyDiffSerializer,
    PolicyDocumentInputSerializer,
    PolicyDocumentSerializer,
    PolicyPublishInputSerializer,
    PolicyRollbackInputSerializer,
    PolicySimulateInputSerializer,
    PolicyValidationSerializer,
    PolicyVersionDetailSerializer,
    PolicyVersionSerializer,
    SimulationReportSerializer,
)
from policies.services import policy_create, policy_rollback, policy_validate
from policies.simulation import policy_simulate


def request_actor(request: Request) -> str:
    if isinstance(request.user, ApiKeyUser):
        return f"key:{request.user.api_key.name}"
    return f"user:{getattr(request.user, 'username', 'anonymous')}"


class PolicyView(APIView):
    sdk_methods = ("GET", "HEAD")

    @property
    def default_response_headers(self) -> dict[str, str]:
        # A read answers with policies.read's headers only, the same from either adapter.
        if self.request.method in ("GET", "HEAD"):
            return {}
        return super().default_response_headers

    @extend_schema(
        summary="The active policy of a service (SDKs poll this)",
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False)],
        responses={200: PolicyDocumentSerializer, 304: OpenApiResponse(description="Not modified")},
    )
    def get(self, request: Request, service: str) -> HttpResponse:
        entry = policy_entry(team=request.team, service=service)  # type: ignore[attr-defined]
        if entry is None:
            raise NotFound(f"Service {service!r} has no active policy; SDKs keep every line until one is published.")
        answer = policy_answer(entry, if_none_match=request.headers.get("If-None-Match", ""))
        response = HttpResponse(answer.body, status=answer.status)
        if answer.status == 200:
            response["Content-Type"] = "application/json"
        else:
            del response["Content-Type"]
        for name, value in answer.headers:
            response[name] = value
        return response

    @extend_schema(
        summary="Publish (or propose) a policy after the safety checker",
        request=PolicyPublishInputSerializer,
        responses={201: PolicyVersionDetailSerializer},
    )
    def post(self, request: Request, service: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        payload = PolicyPublishInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        version = policy_create(
            service=svc,
            document=payload.validated_data["document"],
            actor=request_actor(request),
            activate=payload.validated_data["activate"],
        )
        return Response(PolicyVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)


class PolicyHistoryView(APIView):
    @extend_schema(
        summary="Every policy version of a service, newest first", responses=PolicyVersionSerializer(many=True)
    )
    def get(self, request: Request, service: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        return Response(PolicyVersionSerializer(policy_versions(service=svc)[:200], many=True).data)


class PolicyVersionView(APIView):
    @extend_schema(summary="One policy version with its document", responses=PolicyVersionDetailSerializer)
    def get(self, request: Request, service: str, number: int) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        return Response(PolicyVersionDetailSerializer(policy_version_get(service=svc, number=number)).data)


class PolicyDiffView(APIView):
    @extend_schema(
        summary="What changed between two versions",
        parameters=[
            OpenApiParameter("from", int, OpenApiParameter.QUERY, required=True),
            OpenApiParameter("to", int, OpenApiParameter.QUERY, required=False, description="Default: active."),
        ],
        responses=PolicyDiffSerializer,
    )
    def get(self, request: Request, service: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        numbers = _DiffQuery(data=request.query_params)
        numbers.is_valid(raise_exception=True)
        old = policy_version_get(service=svc, number=numbers.validated_data["from"])
        to = numbers.validated_data.get("to")
        new = policy_version_get(service=svc, number=to) if to else policy_active(service=svc)
        if new is None:
            raise ValidationError({"to": ["There is no active version to compare with; give `to`."]})
        diff = policy_diff(old.document, new.document)
        return Response({"from_version": old.number, "to_version": new.number, **diff})


class _DiffQuery(serializers.Serializer[Any]):
    to = serializers.IntegerField(min_value=1, required=False)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(min_value=1)
        return fields


class PolicyRollbackView(APIView):
    @extend_schema(
        summary="Republish an earlier version as the new active version",
        request=PolicyRollbackInputSerializer,
        responses={201: PolicyVersionDetailSerializer},
    )
    def post(self, request: Request, service: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        payload = PolicyRollbackInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        version = policy_rollback(service=svc, number=payload.validated_data["version"], actor=request_actor(request))
        return Response(PolicyVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)


class PatternListView(ListAPIView):  # type: ignore[type-arg]
    serializer_class = PatternOutputSerializer

    @extend_schema(summary="Patterns of a service by volume, with their rate in the active policy")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def _service(self) -> Any:
        if not hasattr(self, "_svc"):
            self._svc = service_get(team=self.request.team, name=self.kwargs["service"])  # type: ignore[attr-defined]
        return self._svc

    def get_queryset(self) -> Any:
        return pattern_list_for_service(service=self._service())

    def get_serializer_context(self) -> dict[str, Any]:
        service = self._service()
        return {
            **super().get_serializer_context(),
            "rules": policy_rules_by_pattern(service=service),
            "total_bytes": service_total_bytes(service=service),
        }


class PatternDetailView(APIView):
    @extend_schema(summary="One pattern with its hourly windows and rate", responses=PatternDetailOutputSerializer)
    def get(self, request: Request, service: str, pattern_id: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        pattern = pattern_get(service=svc, pattern_id=pattern_id)
        context = {
            "rules": policy_rules_by_pattern(service=svc),
            "total_bytes": service_total_bytes(service=svc),
            "windows": pattern_windows(pattern=pattern),
            "similar": [],
        }
        return Response(PatternDetailOutputSerializer(pattern, context=context).data)


class PolicyValidateView(APIView):
    member_methods = ("POST",)  # checks a draft, stores nothing

    @extend_schema(
        summary="Check a document against the safety checker without storing it",
        request=PolicyDocumentInputSerializer,
        responses=PolicyValidationSerializer,
    )
    def post(self, request: Request, service: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        payload = PolicyDocumentInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        errors = policy_validate(service=svc, document=payload.validated_data["document"])
        return Response({"valid": not errors, "errors": errors})


class PolicySimulateView(APIView):
    member_methods = ("POST",)  # replays a draft, stores nothing

    @extend_schema(
        summary="Replay the service's recent history through a draft document (nothing is stored)",
        request=PolicySimulateInputSerializer,
        responses=SimulationReportSerializer,
    )
    def post(self, request: Request, service: str) -> Response:
        svc = service_get(team=request.team, name=service)  # type: ignore[attr-defined]
        payload = PolicySimulateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        document = {**payload.validated_data["document"], "service": svc.name}
        errors = policy_validate(service=svc, document=document)
        if errors:
            raise ValidationError({"document": [f"{e['path']}: {e['message']}" for e in errors]})
        target = payload.validated_data.get("target_reduction")
        return Response(policy_simulate(service=svc, document=document, target_reduction=target))
