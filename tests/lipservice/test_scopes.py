"""Credential scopes: an sdk key reads policies and posts stats only; management keys and team admins do the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from model_bakery import baker
from rest_framework.test import APIClient

from lipservice.models import ApiKey, Team, TeamMembership
from lipservice.services import api_key_create
from patterns.models import Service
from policies.models import PolicyVersion
from policies.services import policy_publish
from tests.policies.conftest import make_document

pytestmark = pytest.mark.django_db

FORBIDDEN_TO_SDK: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/api/v1/policies/checkout", {"document": make_document()}),
    ("post", "/api/v1/policies/checkout/rollback", {"version": 1}),
    ("post", "/api/v1/policies/checkout/validate", {"document": make_document()}),
    ("post", "/api/v1/policies/checkout/simulate", {"document": make_document()}),
    ("post", "/api/v1/patterns/analyze", {"service": "checkout", "lines": [{"message": "hello"}]}),
    ("get", "/api/v1/pricing", {}),
    ("put", "/api/v1/pricing", {"pricing": None}),
    ("patch", "/api/v1/team", {"posthog_project_id": "7"}),
    ("post", "/api/v1/team/test-connection", {}),
    ("get", "/api/v1/team", {}),
    ("get", "/api/v1/services", {}),
    ("get", "/api/v1/policies/checkout/history", {}),
    ("get", "/api/v1/insights", {}),
]


@pytest.fixture
def service(team: Team) -> Service:
    svc = baker.make(Service, team=team, name="checkout")
    policy_publish(service=svc, document=make_document(), actor="test")
    return svc


def stats_batch() -> dict[str, Any]:
    minute = datetime.now(UTC).replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")
    entry = {"pattern": "p_health", "minute": minute, "seen": 10, "kept": 1, "bytes_seen": 100, "bytes_kept": 10}
    return {"batch_id": str(uuid.uuid4()), "service": "checkout", "stats": [entry]}


def session(team: Team, role: str) -> APIClient:
    user = get_user_model().objects.create_user(f"{role}-{uuid.uuid4().hex[:6]}", password="pw-123456789")
    TeamMembership.objects.create(team=team, user=user, role=role)
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.mark.parametrize(("method", "path", "body"), FORBIDDEN_TO_SDK, ids=[f"{m} {p}" for m, p, _ in FORBIDDEN_TO_SDK])
def test_sdk_key_gets_403_outside_policy_reads_and_stats(
    sdk_client: APIClient, service: Service, method: str, path: str, body: dict[str, Any]
) -> None:
    before = PolicyVersion.objects.count()
    response = getattr(sdk_client, method)(path, body, format="json")
    assert response.status_code == 403, response.content
    assert "sdk scope" in response.json()["error"]["message"]
    assert PolicyVersion.objects.count() == before


def test_sdk_key_reads_its_policy_and_posts_stats(sdk_client: APIClient, service: Service) -> None:
    assert sdk_client.get("/api/v1/policies/checkout").status_code == 200
    response = sdk_client.post("/api/v1/patterns/stats", stats_batch(), format="json")
    assert response.status_code == 202, response.content


def test_management_key_publishes_and_rolls_back_through_the_checker(client: APIClient, service: Service) -> None:
    assert client.post("/api/v1/policies/checkout", {"document": make_document()}, format="json").status_code == 201
    assert client.post("/api/v1/policies/checkout/rollback", {"version": 1}, format="json").status_code == 201
    unsafe = make_document(severity_rates={"ERROR": 0.0})
    refused = client.post("/api/v1/policies/checkout", {"document": unsafe}, format="json")
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("role", "publish_status", "validate_status"),
    [(TeamMembership.Role.MEMBER, 403, 200), (TeamMembership.Role.ADMIN, 201, 200)],
)
def test_people_read_as_members_and_write_as_team_admins(
    team: Team, service: Service, role: str, publish_status: int, validate_status: int
) -> None:
    api = session(team, role)
    assert api.get("/api/v1/policies/checkout/history").status_code == 200
    document = {"document": make_document()}
    assert api.post("/api/v1/policies/checkout/validate", document, format="json").status_code == validate_status
    assert api.post("/api/v1/policies/checkout", document, format="json").status_code == publish_status
    assert api.put("/api/v1/pricing", {"pricing": None}, format="json").status_code == (
        200 if role == TeamMembership.Role.ADMIN else 403
    )


def test_sdk_budget_is_separate_from_management_budget(team: Team, service: Service, settings: Any) -> None:
    _, raw = api_key_create(team=team, name="both", scope=ApiKey.Scope.MANAGEMENT)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"sdk": "5/day", "management": "2/day"}
    with override_settings(REST_FRAMEWORK=rest):
        assert [api.get("/api/v1/services").status_code for _ in range(3)] == [200, 200, 429]
        assert [api.get("/api/v1/policies/checkout").status_code for _ in range(6)] == [200] * 5 + [429]


def test_default_sdk_budget_lets_ten_thousand_instances_share_a_key(settings: Any) -> None:
    from lipservice.throttling import SDK_BUDGET, ApiKeyRateThrottle

    throttle = ApiKeyRateThrottle(SDK_BUDGET)
    per_window = 10_000 * (throttle.duration / 60 + throttle.duration / 30)  # a poll a minute, stats twice
    assert throttle.num_requests >= per_window
    assert ApiKeyRateThrottle().num_requests < throttle.num_requests
