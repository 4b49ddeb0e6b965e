"""Request ids, metrics and structured logs."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from lipservice.logs import json_formatter

pytestmark = pytest.mark.django_db


def test_request_id_is_echoed_or_made(client: APIClient) -> None:
    assert client.get("/api/v1/services", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    made = client.get("/api/v1/services", HTTP_X_REQUEST_ID="not valid!")["X-Request-ID"]
    assert made != "not valid!" and len(made) == 32


def test_metrics_expose_request_latency_and_cache(client: APIClient) -> None:
    client.get("/api/v1/services")
    body = APIClient().get("/metrics").content.decode()
    assert 'lipservice_http_request_seconds_count{method="GET",route="api/v1/services",status="200"}' in body
    assert "lipservice_policy_cache_total" in body


@override_settings(LIPSERVICE_METRICS_TOKEN="s3cret")
def test_metrics_can_require_a_token() -> None:
    api = APIClient()
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_json_log_lines_carry_extras() -> None:
    record = logging.LogRecord("lipservice.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.request_id = "r1"
    line = json.loads(json_formatter().format(record))
    assert line["event"] == "GET /x" and line["request_id"] == "r1" and line["level"] == "info"
