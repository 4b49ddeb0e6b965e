"""Pattern list and detail with the active policy's rates; document validation without storing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from model_bakery import baker
from rest_framework.test import APIClient

from patterns.models import Pattern, PatternWindow, Service
from policies.models import PolicyVersion
from policies.services import policy_publish
from tests.policies.conftest import make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def patterns(service: Service) -> list[Pattern]:
    return [
        baker.make(
            Pattern,
            service=service,
            pattern_id="p_health",
            template="GET /healthz <*>",
            count=900,
            bytes=27000,
            severity_counts={"INFO": 900},
            examples=["GET /healthz 200 1ms"],
        ),
        baker.make(
            Pattern,
            service=service,
            pattern_id="p_err",
            template="payment failed for <*>",
            count=5,
            bytes=3000,
            severity_counts={"ERROR": 5},
            examples=["payment failed for order 7"],
        ),
    ]


def test_patterns_are_listed_by_bytes_with_rates(client: APIClient, service: Service, patterns: list[Pattern]) -> None:
    policy_publish(service=service, document=make_document(health=0.01), actor="test")
    body = client.get("/api/v1/patterns/checkout").json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first["id"] == "p_health" and first["rate"] == 0.01 and first["reason"] == "health checks"
    assert first["share_of_bytes"] == pytest.approx(0.9)
    assert second["id"] == "p_err" and second["rate"] is None


def test_pattern_detail_has_windows(client: APIClient, service: Service, patterns: list[Pattern]) -> None:
    baker.make(
        PatternWindow,
        service=service,
        pattern=patterns[0],
        bucket_start=datetime(2026, 11, 1, 5, tzinfo=UTC),
        count=40,
        bytes=1200,
    )
    body = client.get("/api/v1/patterns/checkout/p_health").json()
    assert body["template"] == "GET /healthz <*>"
    assert [w["count"] for w in body["windows"]] == [40]
    assert client.get("/api/v1/patterns/checkout/nope").status_code == 404


def test_validate_reports_errors_and_stores_nothing(
    client: APIClient, service: Service, patterns: list[Pattern]
) -> None:
    good = client.post("/api/v1/policies/checkout/validate", {"document": make_document()}, format="json").json()
    assert good == {"valid": True, "errors": []}
    bad_doc = make_document()
    bad_doc["severity_rates"]["FATAL"] = 0.0
    bad_doc["patterns"].append({"id": "p_err", "template": "payment failed for <*>", "rate": 0.5})
    bad = client.post("/api/v1/policies/checkout/validate", {"document": bad_doc}, format="json").json()
    assert bad["valid"] is False
    paths = {e["path"] for e in bad["errors"]}
    assert "$.severity_rates.FATAL" in paths
    assert "$.patterns[2].rate" in paths  # p_err has 5 lines: under the rare floor it must stay at 1.0
    assert not PolicyVersion.objects.exists()


def test_simulate_estimates_without_a_replayable_source_and_refuses_bad_drafts(
    client: APIClient, service: Service, patterns: list[Pattern]
) -> None:
    report = client.post("/api/v1/policies/checkout/simulate", {"document": make_document()}, format="json").json()
    assert report["method"] == "estimate"
    assert report["errors_kept"] == report["errors_total"]
    assert 0 < report["reduction_bytes"] < 1
    bad = make_document()
    bad["severity_rates"]["ERROR"] = 0.2
    response = client.post("/api/v1/policies/checkout/simulate", {"document": bad}, format="json")
    assert response.status_code == 400
    assert "ERROR" in response.json()["error"]["message"]


def test_simulate_says_when_the_target_is_missed_and_refuses_a_bad_target(
    client: APIClient, service: Service, patterns: list[Pattern]
) -> None:
    url = "/api/v1/policies/checkout/simulate"
    report = client.post(url, {"document": make_document(), "target_reduction": 0.99}, format="json").json()
    assert report["target"]["met"] is False
    assert report["target"]["shortfall"] > 0
    assert report["target"]["causes"]
    met = client.post(url, {"document": make_document(), "target_reduction": 0.01}, format="json").json()
    assert met["target"]["met"] is True and met["target"]["causes"] == []
    assert client.post(url, {"document": make_document()}, format="json").json()["target"] is None
    bad = client.post(url, {"document": make_document(), "target_reduction": 2}, format="json")
    assert bad.status_code == 400
