"""Shared fixtures: teams, keys, an API client, and the services-required switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from lipservice.celery import app as celery_app
from lipservice.models import ApiKey, Team
from lipservice.services import api_key_create

REQUIRE_SERVICES = os.environ.get("LIPSERVICE_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes", "on"}


def service_unavailable(what: str, reason: str) -> None:
    """Fail when services are required (CI), skip otherwise: a missing service is never a silent pass."""
    message = f"{what} unreachable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (LIPSERVICE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _eager_celery_and_clean_cache() -> Iterator[None]:
    # Tests run tasks in process even when a broker is configured; the broker itself is checked by readiness tests.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    cache.clear()
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="acme", display_name="Acme")


@pytest.fixture
def other_team(db: None) -> Team:
    return Team.objects.create(name="globex", display_name="Globex")


@pytest.fixture
def api_key(team: Team) -> str:
    _, raw = api_key_create(team=team, name="test", scope=ApiKey.Scope.MANAGEMENT)
    return raw


@pytest.fixture
def sdk_key(team: Team) -> str:
    _, raw = api_key_create(team=team, name="sdk")
    return raw


@pytest.fixture
def sdk_client(sdk_key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {sdk_key}")
    return api


@pytest.fixture
def client(api_key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return api


@pytest.fixture
def team_admin_client(team: Team) -> APIClient:
    """A logged-in person with the admin role in `team`."""
    from django.contrib.auth import get_user_model

    from lipservice.models import TeamMembership

    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    TeamMembership.objects.create(team=team, user=user, role=TeamMembership.Role.ADMIN)
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def loopback_peers(settings: Any) -> None:
    """The operator's allowance for the local servers that stand in for PostHog, LLM vendors and alert receivers:
    tenant-chosen destinations on loopback are refused unless allowed (lipservice.outbound)."""
    settings.LIPSERVICE_OUTBOUND_ALLOW = ["127.0.0.0/8", "::1/128", "localhost"]


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def require_postgresql() -> None:
    """Concurrency tests need real row locking: PostgreSQL (SQLite serialises writers by locking the database)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        message = f"needs PostgreSQL; the test database is {connection.vendor}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (LIPSERVICE_REQUIRE_SERVICES=1)")
        pytest.skip(message)
