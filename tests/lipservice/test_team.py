"""Team connection settings (secrets write-only, masked) and the read-only connection test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from lipservice.models import Team
from tests.patterns.sources.fake_posthog import API_KEY, PROJECT_ID, FakePostHog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_peers")]


@pytest.fixture
def posthog() -> Iterator[FakePostHog]:
    fake = FakePostHog()
    fake.start()
    yield fake
    fake.stop()


def test_api_key_can_read_but_not_change_team_settings(client: APIClient) -> None:
    assert client.get("/api/v1/team").json()["name"] == "acme"
    response = client.patch("/api/v1/team", {"posthog_project_id": "7"}, format="json")
    assert response.status_code == 403
    assert "team admin" in response.json()["error"]["message"]


def test_secret_is_write_only_and_masked(team_admin_client: APIClient, team: Team) -> None:
    response = team_admin_client.patch(
        "/api/v1/team", {"posthog_personal_api_key": "phx_abcdefghijklmnop", "posthog_project_id": "42"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert "posthog_personal_api_key" not in body
    assert body["posthog_personal_api_key_masked"] == "phx_…mnop"
    team.refresh_from_db()
    assert team.posthog_personal_api_key == "phx_abcdefghijklmnop"


def test_project_token_is_refused_as_a_personal_key(team_admin_client: APIClient) -> None:
    response = team_admin_client.patch("/api/v1/team", {"posthog_personal_api_key": "phc_public"}, format="json")
    assert response.status_code == 400
    assert "personal" in response.json()["error"]["message"]


def test_connection_test_reports_each_capability(client: APIClient, team: Team, posthog: FakePostHog) -> None:
    team.posthog_host = posthog.url
    team.posthog_project_id = str(PROJECT_ID)
    team.posthog_personal_api_key = API_KEY
    team.save()
    posthog.key_scopes = ["logs:read", "query:read"]
    report = client.post("/api/v1/team/test-connection").json()
    assert report["logs_read"]["status"] == "ok"
    assert report["hogql"]["status"] == "ok"
    assert report["drop_rule_write"]["status"] == "denied"
    assert "logs:write" in report["drop_rule_write"]["detail"]
    assert report["clickhouse"]["status"] == "skipped"
    assert not posthog.sampling_rules


def test_connection_test_names_a_bad_key(client: APIClient, team: Team, posthog: FakePostHog) -> None:
    team.posthog_host = posthog.url
    team.posthog_project_id = str(PROJECT_ID)
    team.posthog_personal_api_key = "phx_wrong"
    team.save()
    report = client.post("/api/v1/team/test-connection").json()
    assert report["logs_read"]["status"] == "denied"


def test_connection_test_without_settings_says_what_to_set(client: APIClient) -> None:
    report = client.post("/api/v1/team/test-connection").json()
    assert report["logs_read"]["status"] == "skipped"
    assert "personal API key" in report["logs_read"]["detail"]


def test_admin_refuses_an_invalid_price_table(team: Team) -> None:
    from lipservice.admin import TeamForm

    data = {
        "name": team.name,
        "display_name": "",
        "posthog_host": "https://us.posthog.com",
        "posthog_ingest_host": "https://us.i.posthog.com",
        "posthog_project_id": "",
        "posthog_project_token": "",
        "clickhouse_team_id": "",
        "config": '{"pricing": {"tiers": [{"up_to_gb": 10, "price_per_gb": -1}]}}',
    }
    form = TeamForm(data=data, instance=team)
    assert not form.is_valid()
    assert "pricing" in str(form.errors["config"])
    data["config"] = '{"pricing": {"currency": "USD", "tiers": [{"up_to_gb": null, "price_per_gb": 0.4}]}}'
    assert TeamForm(data=data, instance=team).is_valid()
