"""Liveness, readiness per dependency, schema and docs pages."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}


def test_health_is_200_without_auth(anon: APIClient) -> None:
    response = anon.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_each_dependency(anon: APIClient) -> None:
    response = anon.get("/api/v1/ready")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) == {"database", "cache", "broker"}


def test_ready_is_503_and_names_redis_when_redis_is_unreachable(anon: APIClient) -> None:
    with override_settings(CACHES=UNREACHABLE_REDIS):
        response = anon.get("/api/v1/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["details"]["failed"] == ["cache"]
    assert "cache" in error["message"]
    assert "redis" in error["details"]["checks"]["cache"]["detail"].lower()


def test_ready_is_503_and_names_the_broker_when_it_is_unreachable(anon: APIClient) -> None:
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_BROKER_CONNECTION_TIMEOUT=0.5):
        response = anon.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["failed"] == ["broker"]


def test_throttle_lets_requests_through_when_redis_is_down(client: APIClient) -> None:
    with override_settings(CACHES=UNREACHABLE_REDIS):
        assert client.get("/api/v1/services").status_code == 200


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/admin/login/"])
def test_docs_schema_and_admin_pages_answer(anon: APIClient, path: str) -> None:
    assert anon.get(path).status_code == 200


def test_schema_documents_the_v1_endpoints(anon: APIClient) -> None:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/v1/services", "/api/v1/health", "/api/v1/ready"} <= set(schema["paths"])
