"""API keys, tenancy scoping, throttling and the error body."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from model_bakery import baker
from rest_framework.test import APIClient

from lipservice.models import ApiKey, Team, hash_api_key
from lipservice.services import api_key_create, api_key_revoke
from patterns.models import Service

pytestmark = pytest.mark.django_db


def test_services_lists_only_the_keys_team(client: APIClient, team: Team, other_team: Team) -> None:
    baker.make(Service, team=team, name="checkout")
    baker.make(Service, team=other_team, name="billing")
    response = client.get("/api/v1/services")
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["results"]] == ["checkout"]


def test_key_of_team_a_gets_404_on_team_b_service(client: APIClient, other_team: Team) -> None:
    baker.make(Service, team=other_team, name="billing")
    response = client.get("/api/v1/services/billing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_key_sees_its_own_service(client: APIClient, team: Team) -> None:
    baker.make(Service, team=team, name="checkout")
    assert client.get("/api/v1/services/checkout").json()["name"] == "checkout"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Token lsk_abc",
        "Bearer lsk_not-a-real-key",
        "Bearer two words",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_missing_or_malformed_key_is_401(anon: APIClient, team: Team, header: str | None) -> None:
    if header:
        anon.credentials(HTTP_AUTHORIZATION=header)
    response = anon.get("/api/v1/services")
    assert response.status_code == 401
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_401(team: Team) -> None:
    key, raw = api_key_create(team=team, name="old", scope=ApiKey.Scope.MANAGEMENT)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/services").status_code == 200
    api_key_revoke(key=key)
    response = api.get("/api/v1/services")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_key_is_stored_hashed_with_visible_prefix_and_records_use(team: Team) -> None:
    key, raw = api_key_create(team=team, name="ci", scope=ApiKey.Scope.MANAGEMENT)
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == hash_api_key(raw) != raw
    assert raw.startswith(stored.prefix) and len(stored.prefix) < len(raw)
    assert stored.last_used_at is None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    api.get("/api/v1/services")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_throttle_answers_429_with_retry_after(client: APIClient, settings: object) -> None:
    rest = dict(settings.REST_FRAMEWORK)  # type: ignore[attr-defined]
    rest["DEFAULT_THROTTLE_RATES"] = {
        "sdk": "100/day",
        "management": "3/day",
    }  # a day: the window cannot roll over mid-test
    with override_settings(REST_FRAMEWORK=rest):
        codes = [client.get("/api/v1/services").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = client.get("/api/v1/services")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86_400
    assert response.json()["error"]["code"] == "throttled"


def test_throttle_is_per_key(team: Team, settings: object) -> None:
    rest = dict(settings.REST_FRAMEWORK)  # type: ignore[attr-defined]
    rest["DEFAULT_THROTTLE_RATES"] = {"sdk": "100/day", "management": "2/day"}
    clients = []
    for name in ("a", "b"):
        _, raw = api_key_create(team=team, name=name, scope=ApiKey.Scope.MANAGEMENT)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(api)
    with override_settings(REST_FRAMEWORK=rest):
        assert [clients[0].get("/api/v1/services").status_code for _ in range(3)] == [200, 200, 429]
        assert clients[1].get("/api/v1/services").status_code == 200


@pytest.mark.parametrize(
    ("args", "scope", "services_status"), [((), "sdk", 403), (("--scope", "management"), "management", 200)]
)
def test_create_api_key_command_prints_key_last_with_sdk_scope_by_default(
    team: Team, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], scope: str, services_status: int
) -> None:
    call_command("create_api_key", "--team", team.name, "--name", "cli", *args)
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert ApiKey.objects.get(key_hash=hash_api_key(raw)).scope == scope
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/services").status_code == services_status


def test_create_api_key_for_unknown_team_fails_clearly() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No team named 'nope'"):
        call_command("create_api_key", "--team", "nope", "--name", "x")


def test_unknown_api_route_has_error_body(client: APIClient) -> None:
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_team_secrets_are_encrypted_and_masked(team: Team) -> None:
    team.posthog_personal_api_key = "phx_supersecretvalue1234"
    team.save()
    stored = Team.objects.get(pk=team.pk)
    assert "supersecret" not in stored.posthog_personal_api_key_encrypted
    assert stored.posthog_personal_api_key == "phx_supersecretvalue1234"
    assert stored.masked_secret("posthog_personal_api_key") == "phx_…1234"


def test_team_secret_may_reference_an_operator_allowed_environment_variable(
    team: Team, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setenv("ACME_POSTHOG_KEY", "phx_fromenv")
    team.posthog_personal_api_key = "env:ACME_POSTHOG_KEY"
    team.save()
    assert Team.objects.get(pk=team.pk).posthog_personal_api_key == ""
    settings.LIPSERVICE_SECRET_ENV_NAMES = ["ACME_POSTHOG_KEY"]
    assert Team.objects.get(pk=team.pk).posthog_personal_api_key == "phx_fromenv"
