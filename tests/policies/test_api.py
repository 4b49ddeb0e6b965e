"""The policy distribution API: publish, read with ETag, history, diff, rollback, refusals."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from model_bakery import baker
from rest_framework.test import APIClient

from lipservice.models import Team
from lipservice.services import api_key_create, api_key_revoke
from patterns.models import Service
from policies.cache import CachedPolicy, policy_cache_counters, policy_cache_get, policy_cache_key, policy_cache_set
from policies.models import AuditEntry, PolicyVersion
from tests.lipservice.test_health import UNREACHABLE_REDIS
from tests.policies.conftest import make_document

pytestmark = pytest.mark.django_db


def publish(client: APIClient, document: dict[str, Any], service: str = "checkout", **extra: Any) -> Any:
    return client.post(f"/api/v1/policies/{service}", {"document": document, **extra}, format="json")


def test_publish_then_read_with_etag_and_304(client: APIClient, service: Service, document: dict[str, Any]) -> None:
    created = publish(client, document)
    assert created.status_code == 201, created.json()
    assert created.json()["number"] == 1 and created.json()["status"] == "active"
    response = client.get("/api/v1/policies/checkout")
    assert response.status_code == 200
    etag = response["ETag"]
    assert etag.startswith('"') and etag == created.json()["etag"]
    assert "max-age=60" in response["Cache-Control"]
    body = response.json()
    assert body["version"] == 1 and body["service"] == "checkout" and body["severity_rates"]["ERROR"] == 1.0
    not_modified = client.get("/api/v1/policies/checkout", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified["ETag"] == etag


def test_no_active_policy_is_404(client: APIClient, service: Service) -> None:
    response = client.get("/api/v1/policies/checkout")
    assert response.status_code == 404
    assert "keep every line" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        ({"severity_rates": {"ERROR": 0.5}}, "$.severity_rates.ERROR"),
        ({"keep": {"first_per_pattern": False}}, "$.keep.first_per_pattern"),
        ({"default_rate": 1.5}, "$.default_rate"),
        ({"surprise": True}, "$.surprise"),
    ],
)
def test_invalid_document_is_refused_with_field_errors_and_nothing_stored(
    client: APIClient, service: Service, document: dict[str, Any], mutation: dict[str, Any], path: str
) -> None:
    publish(client, document)
    bad = {**document, **mutation}
    response = publish(client, bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_policy"
    assert any(e["path"] == path for e in error["details"]["errors"]), error
    assert PolicyVersion.objects.filter(service=service).count() == 1
    assert client.get("/api/v1/policies/checkout").json()["version"] == 1


def test_pattern_rate_above_one_is_refused(client: APIClient, service: Service) -> None:
    response = publish(client, make_document(health=2.0))
    assert response.status_code == 400
    assert any("patterns[0].rate" in e["path"] for e in response.json()["error"]["details"]["errors"])


@pytest.mark.parametrize("body", [{}, {"document": "not an object"}, {"document": {"service": "x"}, "activate": "x"}])
def test_malformed_publish_body_is_400(client: APIClient, service: Service, body: dict[str, Any]) -> None:
    response = client.post("/api/v1/policies/checkout", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_publish_invalidates_the_cache_after_commit(client: APIClient, service: Service) -> None:
    publish(client, make_document(info=0.5))
    first = client.get("/api/v1/policies/checkout")
    client.get("/api/v1/policies/checkout")
    publish(client, make_document(info=0.2))
    second = client.get("/api/v1/policies/checkout")
    assert second["ETag"] != first["ETag"]
    assert second.json()["severity_rates"]["INFO"] == 0.2
    counters = policy_cache_counters()
    assert counters["hit"] >= 1 and counters["miss"] >= 2


def test_cache_keys_are_short_and_valid_for_any_service_name_a_request_can_send() -> None:
    names = ["checkout", "\n\x00\u00da\u00f4\u00be", "a b\tc", "x" * 10_000, "\ud800", "%s %s %.1fms", "checkouT"]
    keys = [policy_cache_key(7, name) for name in names]
    assert len(set(keys)) == len(names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # CacheKeyWarning: spaces, control characters, more than 250 characters
        for key in keys:
            assert len(key) < 80
            cache.validate_key(cache.make_key(key))
    entry = CachedPolicy(etag='"e1"', body=b"{}", version=1)
    policy_cache_set(7, names[1], entry)
    assert policy_cache_get(7, names[1]) == entry
    assert policy_cache_get(7, names[2]) is None and policy_cache_get(8, names[1]) is None


def test_policy_is_served_from_the_database_when_redis_is_down(client: APIClient, service: Service) -> None:
    publish(client, make_document())
    with override_settings(CACHES=UNREACHABLE_REDIS):
        response = client.get("/api/v1/policies/checkout")
    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_the_policy_body_is_the_stored_document_byte_for_byte_as_json(client: APIClient, service: Service) -> None:
    created = publish(client, make_document()).json()
    response = client.get("/api/v1/policies/checkout")
    assert response["Content-Type"] == "application/json"
    version = PolicyVersion.objects.get(service=service, number=created["number"])
    assert json.loads(response.content) == version.document
    second = client.get("/api/v1/policies/checkout")  # now from the cache
    assert second.content == response.content and second["ETag"] == response["ETag"]
    listed = client.get("/api/v1/policies/checkout", HTTP_IF_NONE_MATCH=f'"other", {response["ETag"]}')
    assert listed.status_code == 304


def test_policy_reads_count_against_the_key_rate_limit(client: APIClient, service: Service, settings: Any) -> None:
    publish(client, make_document())
    rest = dict(settings.REST_FRAMEWORK)
    # a day: the window cannot roll over mid-test
    rest["DEFAULT_THROTTLE_RATES"] = {"sdk": "3/day", "management": "3/day"}
    with override_settings(REST_FRAMEWORK=rest):
        codes = [client.get("/api/v1/policies/checkout").status_code for _ in range(3)]
        throttled = client.get("/api/v1/policies/checkout")
    assert codes == [200, 200, 200]
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "throttled"


@pytest.mark.parametrize(
    ("authorization", "status"),
    [("", 401), ("Bearer lsk_not_a_key", 401), ("Token abc", 401), ("Bearer two words", 401)],
)
def test_policy_reads_without_a_good_key_get_the_usual_error_body(
    client: APIClient, service: Service, authorization: str, status: int
) -> None:
    publish(client, make_document())
    anonymous = APIClient()
    response = anonymous.get("/api/v1/policies/checkout", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_a_revoked_key_cannot_read_policies(client: APIClient, team: Team, service: Service) -> None:
    key, raw = api_key_create(team=team, name="sdk")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    publish(client, make_document())
    assert api.get("/api/v1/policies/checkout").status_code == 200
    api_key_revoke(key=key)
    assert api.get("/api/v1/policies/checkout").status_code == 401


def test_another_teams_key_cannot_read_the_policy(client: APIClient, service: Service, other_team: Team) -> None:
    publish(client, make_document())
    _, raw = api_key_create(team=other_team, name="sdk")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/policies/checkout").status_code == 404


def test_history_diff_and_rollback(client: APIClient, service: Service) -> None:
    publish(client, make_document(info=0.5, health=0.01))
    publish(client, make_document(info=0.2, health=0.02))
    history = client.get("/api/v1/policies/checkout/history").json()
    assert [v["number"] for v in history] == [2, 1]
    assert [v["status"] for v in history] == ["active", "superseded"]

    diff = client.get("/api/v1/policies/checkout/diff", {"from": 1, "to": 2}).json()
    assert diff["severity_rates"] == {"INFO": {"from": 0.5, "to": 0.2}}
    assert diff["patterns_changed"][0]["changes"]["rate"] == {"from": 0.01, "to": 0.02}
    assert diff["identical"] is False

    rolled = client.post("/api/v1/policies/checkout/rollback", {"version": 1}, format="json")
    assert rolled.status_code == 201
    assert rolled.json()["number"] == 3
    active = client.get("/api/v1/policies/checkout").json()
    assert active["version"] == 3 and active["severity_rates"]["INFO"] == 0.5
    assert client.get("/api/v1/policies/checkout/diff", {"from": 1}).json()["identical"] is True
    actions = list(AuditEntry.objects.filter(service=service).order_by("created_at").values_list("action", flat=True))
    assert actions == ["policy.published", "policy.published", "policy.rolled_back"]


def test_rollback_to_missing_version_is_404(client: APIClient, service: Service) -> None:
    publish(client, make_document())
    assert client.post("/api/v1/policies/checkout/rollback", {"version": 9}, format="json").status_code == 404


def test_proposal_does_not_change_the_active_policy(client: APIClient, service: Service) -> None:
    publish(client, make_document(info=0.5))
    proposal = publish(client, make_document(info=0.1), activate=False)
    assert proposal.json()["status"] == "proposed"
    assert client.get("/api/v1/policies/checkout").json()["severity_rates"]["INFO"] == 0.5


def test_other_teams_policies_are_404(client: APIClient, other_team: Team) -> None:
    baker.make(Service, team=other_team, name="billing")
    assert client.get("/api/v1/policies/billing").status_code == 404
    assert publish(client, make_document(), service="billing").status_code == 404
    assert client.get("/api/v1/policies/billing/history").status_code == 404


def test_server_owns_identity_fields(client: APIClient, service: Service) -> None:
    response = publish(client, make_document(version=99, etag='"forged"', service="someone-else"))
    assert response.status_code == 201
    body = client.get("/api/v1/policies/checkout").json()
    assert body["version"] == 1 and body["service"] == "checkout" and body["etag"] != '"forged"'


def _nested(depth: int) -> Any:
    value: Any = 1.0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        ({"default_rate": int("9" * 400)}, "$.default_rate"),
        ({"severity_rates": {"INFO": int("1" + "0" * 399)}}, "$.severity_rates.INFO"),
        ({"keep": {"window_seconds": 10**400}}, "$.keep.window_seconds"),
        ({"anomaly_boost": {"duration_seconds": 86_401}}, "$.anomaly_boost.duration_seconds"),
        ({"patterns": _nested(40)}, "$.patterns" + "[0]" * 31),
        ({"reasoning": "x" * (1024 * 1024 + 1)}, "$"),
    ],
    ids=["400-digit rate", "400-digit severity rate", "huge window", "duration over a day", "deep", "over 1 MB"],
)
def test_extreme_documents_are_refused_with_a_400_naming_the_field(
    client: APIClient, service: Service, document: dict[str, Any], mutation: dict[str, Any], path: str
) -> None:
    bad = {**document, **mutation}
    body = json.dumps({"document": bad})
    response = client.post("/api/v1/policies/checkout", body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert any(e["path"] == path for e in response.json()["error"]["details"]["errors"]), response.json()
    validated = client.post("/api/v1/policies/checkout/validate", body, content_type="application/json")
    assert validated.status_code in (200, 400) and validated.json() != {"valid": True, "errors": []}
    assert not PolicyVersion.objects.filter(service=service).exists()
