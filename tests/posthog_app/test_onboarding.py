"""Onboarding against a local PostHog whose HogQL runs in chdb: services, a pushed-down 24 h analysis, proposals with
their saving, then the SDK key or the install into PostHog (dry run first)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from lipservice.models import ApiKey, Team, TeamMembership
from policies.exporters.hog import HOG_FUNCTION_NAME
from policies.models import PolicyVersion
from posthog_app.models import Onboarding
from tests.posthog_app.oauth_standin import PostHogStandIn
from tests.posthog_app.test_oauth import connect

pytestmark = pytest.mark.posthog
chdb_session = pytest.importorskip("chdb.session")

SERVICES = ("checkout", "search", "billing")
LINES = 60_000


@pytest.fixture(scope="module")
def loaded_standin() -> Iterator[PostHogStandIn]:
    session = chdb_session.Session()
    server = PostHogStandIn(chdb_session=session).start()
    server.load_last_day(lines=LINES, services=SERVICES)
    yield server
    server.stop()
    session.close()


@pytest.fixture
def standin(loaded_standin: PostHogStandIn) -> PostHogStandIn:
    loaded_standin.load_last_day(lines=LINES, services=SERVICES)
    loaded_standin.token_requests.clear()
    loaded_standin.api_requests.clear()
    loaded_standin.hogql_queries.clear()
    loaded_standin.hog_functions.clear()
    loaded_standin.sampling_rules.clear()
    return loaded_standin


@pytest.fixture
def admin_client(team: Team) -> Client:
    user = get_user_model().objects.create_user("ada", password="x")
    TeamMembership.objects.create(team=team, user=user, role=TeamMembership.Role.ADMIN)
    browser = Client()
    browser.force_login(user)
    return browser


def analyse(browser: Client) -> dict[str, Any]:
    page = browser.get("/posthog-app/onboarding/")
    assert page.status_code == 200
    for name in SERVICES:
        assert f'value="{name}"'.encode() in page.content
    assert browser.post("/posthog-app/onboarding/services/", {"service": list(SERVICES)}).status_code == 302
    percents = []
    status: dict[str, Any] = {}
    for _ in range(100):
        status = json.loads(browser.post("/posthog-app/onboarding/advance/").content)
        percents.append(status["percent"])
        if status["stage"] != "analysing":
            break
    assert status["stage"] == "proposed", status
    assert percents == sorted(percents) and 0 < percents[0] < 100
    return status


def test_onboarding_counts_inside_posthog_and_proposes_a_policy_per_service(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connect(admin_client, standin)

    status = analyse(admin_client)

    onboarding = Onboarding.objects.get(team=team)
    start, end = onboarding.progress["window_start"], onboarding.progress["window_end"]
    expected = standin.hogql(
        "SELECT count() FROM logs WHERE timestamp >= toDateTime({s}) AND timestamp < toDateTime({e})",
        {"s": start, "e": end},
    )["results"][0][0]
    services = status["services"]
    assert isinstance(services, dict)
    assert sum(s["lines"] for s in services.values()) == expected == LINES
    # Only grouped counts left PostHog: no Logs API row reads, and every HogQL query groups.
    assert not any("/logs/query/" in path for _, path, _ in standin.api_requests)
    analysis_queries = [q for q in standin.hogql_queries if "tkey" in q]
    assert len(analysis_queries) == 24 * len(SERVICES)
    assert all("GROUP BY tkey" in q for q in analysis_queries)
    for name in SERVICES:
        version = PolicyVersion.objects.get(service__team=team, service__name=name)
        assert version.status == PolicyVersion.Status.PROPOSED
        saving = services[name]["saving"]
        errors = standin.hogql(
            "SELECT countIf(severity_text = 'error') FROM logs WHERE service_name = {n}"
            " AND timestamp >= toDateTime({s}) AND timestamp < toDateTime({e})",
            {"n": name, "s": start, "e": end},
        )["results"][0][0]
        assert saving["errors_total"] == saving["errors_kept"] == errors > 0
        assert saving["patterns_covered"] == saving["patterns_total"] >= 5
        assert 0 < saving["reduction_percent"] < 100
        assert saving["monthly_saving"] > 0
    assert onboarding.first_policy_at is not None
    assert {"connect", "services", "analysis", "first_policy"} <= set(onboarding.steps)
    assert onboarding.steps["first_policy"]["seconds"] == pytest.approx(onboarding.seconds_to_first_policy, abs=0.01)
    page = admin_client.get("/posthog-app/onboarding/")
    assert b'data-testid="saving"' in page.content
    polled = json.loads(admin_client.get("/posthog-app/onboarding/status/").content)
    assert (polled["stage"], polled["percent"]) == ("proposed", 100)
    assert b'From "Connect" to the first proposed policy' in admin_client.get("/dashboard/").content


def test_install_previews_without_changing_posthog_then_installs(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connect(admin_client, standin)
    analyse(admin_client)

    preview = admin_client.post("/posthog-app/onboarding/install/", {"confirm": "preview"})

    assert preview.status_code == 200
    assert b"would create hog function" in preview.content
    assert standin.hog_functions == [] and standin.sampling_rules == []
    assert not PolicyVersion.objects.filter(service__team=team, status=PolicyVersion.Status.ACTIVE).exists()

    installed = admin_client.post("/posthog-app/onboarding/install/", {"confirm": "install"})

    assert installed.status_code == 200
    assert [f["name"] for f in standin.hog_functions] == [HOG_FUNCTION_NAME]
    assert PolicyVersion.objects.filter(service__team=team, status=PolicyVersion.Status.ACTIVE).count() == 3
    assert "enforce_posthog" in Onboarding.objects.get(team=team).steps


@pytest.mark.parametrize(
    ("language", "marker"), [("python", b"configure_adaptive_logging"), ("javascript", b"@lipservice/sdk")]
)
def test_sdk_snippet_carries_a_new_key_shown_once(
    admin_client: Client, standin: PostHogStandIn, team: Team, language: str, marker: bytes
) -> None:
    connect(admin_client, standin)
    analyse(admin_client)

    response = admin_client.post("/posthog-app/onboarding/sdk/", {"service": "search", "language": language})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(team=team, name="sdk: search")
    assert key.prefix.encode() in response.content and marker in response.content
    assert b"phc_standin_project_token" in response.content
    assert PolicyVersion.objects.get(service__team=team, service__name="search").status == PolicyVersion.Status.ACTIVE
    refused = admin_client.post("/posthog-app/onboarding/sdk/", {"service": "search", "language": "cobol"})
    assert refused.status_code == 400


def test_choosing_no_known_service_is_a_400(admin_client: Client, standin: PostHogStandIn) -> None:
    connect(admin_client, standin)
    admin_client.get("/posthog-app/onboarding/")

    response = admin_client.post("/posthog-app/onboarding/services/", {"service": ["<script>"]})

    assert response.status_code == 400
    assert b"Choose at least one" in response.content


def test_a_grant_lost_mid_analysis_fails_the_step_and_reconnecting_goes_on_with_nothing_lost(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connect(admin_client, standin)
    admin_client.get("/posthog-app/onboarding/")
    admin_client.post("/posthog-app/onboarding/services/", {"service": list(SERVICES)})
    for _ in range(2):
        admin_client.post("/posthog-app/onboarding/advance/")
    standin.revoke_all()

    status = json.loads(admin_client.post("/posthog-app/onboarding/advance/").content)

    assert status["stage"] == "failed" and status["error"].startswith("reconnect:")
    page = admin_client.get("/posthog-app/onboarding/")
    assert page.status_code == 200 and b"Reconnect PostHog" in page.content
    kept = {name: s["hours_done"] for name, s in status["services"].items()}
    assert sum(kept.values()) == 12

    connect(admin_client, standin)
    onboarding = Onboarding.objects.get(team=team)
    assert onboarding.stage == Onboarding.Stage.ANALYSING
    assert {n: s["hours_done"] for n, s in onboarding.progress["services"].items()} == kept
    for _ in range(100):
        status = json.loads(admin_client.post("/posthog-app/onboarding/advance/").content)
        if status["stage"] != "analysing":
            break

    assert status["stage"] == "proposed"
    assert sum(s["lines"] for s in status["services"].values()) == LINES
