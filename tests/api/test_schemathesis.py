"""Property-based fuzzing of every endpoint in our own OpenAPI schema with each credential scope: no 5xx, responses
match the schema (an sdk key's 403s included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lipservice.models import ApiKey, Team
from lipservice.services import api_key_create
from lipservice.wsgi import application
from patterns.models import Pattern, Service
from policies.services import policy_publish
from tests.policies.conftest import make_document

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

CHECKS = (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # Calling the WSGI app directly fires Django's request signals, which would close the test's database
    # connection mid-transaction; Django's own test client disconnects them the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def seed(scope: str) -> str:
    team = Team.objects.create(name="fuzz")
    service = Service.objects.create(team=team, name="checkout")
    Pattern.objects.create(
        service=service,
        pattern_id="p_health",
        template="GET /healthz <*>",
        count=500,
        bytes=9000,
        severity_counts={"INFO": 500},
        examples=["GET /healthz 200"],
    )
    policy_publish(service=service, document=make_document(), actor="test")
    _, raw = api_key_create(team=team, name="fuzz", scope=scope)
    return raw


@pytest.fixture
def management_key(db: None) -> str:
    return seed(ApiKey.Scope.MANAGEMENT)


@pytest.fixture
def sdk_key(db: None) -> str:
    return seed(ApiKey.Scope.SDK)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_errors_and_matches_its_schema_with_a_management_key(case: Any, management_key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {management_key}"}, checks=list(CHECKS))


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_errors_and_matches_its_schema_with_an_sdk_key(case: Any, sdk_key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {sdk_key}"}, checks=list(CHECKS))
