"""Connect with PostHog against a local PostHog on 127.0.0.1, through Authlib and the real PostHog client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from model_bakery import baker

from lipservice.models import Team, TeamMembership
from patterns.analysis import analysis_execute, analysis_run_create
from patterns.connections import posthog_client_for_team
from patterns.models import AnalysisRun, Pattern, Service
from posthog_app.models import Onboarding, PostHogConnection
from posthog_app.oauth import SESSION_KEY
from posthog_app.tokens import ReconnectRequired
from tests.posthog_app.oauth_standin import PROJECT_ID, PROJECT_TOKEN, PostHogStandIn

pytestmark = pytest.mark.posthog


@pytest.fixture
def standin() -> Iterator[PostHogStandIn]:
    server = PostHogStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def admin_client(team: Team) -> Client:
    user = get_user_model().objects.create_user("ada", password="x")
    TeamMembership.objects.create(team=team, user=user, role=TeamMembership.Role.ADMIN)
    browser = Client()
    browser.force_login(user)
    return browser


def start_connect(browser: Client, standin: PostHogStandIn) -> dict[str, str]:
    """Press "Connect" (self-hosted URL = the stand-in) and let the stand-in's authorization endpoint approve."""
    response = browser.post("/posthog-app/connect/", {"region": "self_hosted", "self_hosted_url": standin.url})
    assert response.status_code == 302, response.content[:500]
    authorize = response["Location"]
    assert authorize.startswith(standin.url + "/oauth/authorize/")
    approved = httpx.get(authorize, follow_redirects=False)
    assert approved.status_code == 302
    location = approved.headers["location"]
    assert location.startswith("http://testserver/posthog-app/oauth/callback?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def finish(browser: Client, params: dict[str, str]) -> Any:
    return browser.get("/posthog-app/oauth/callback", params)


def connect(browser: Client, standin: PostHogStandIn) -> PostHogConnection:
    response = finish(browser, start_connect(browser, standin))
    assert response.status_code == 302, response.content[:800]
    assert response["Location"] == "/posthog-app/onboarding/"
    return PostHogConnection.objects.get()


def test_connect_exchanges_the_code_with_pkce_and_stores_tokens_encrypted(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connection = connect(admin_client, standin)

    exchange = standin.token_requests[0]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == "http://testserver/posthog-app/oauth/callback"
    assert exchange["client_id"] == "http://testserver/posthog-app/oauth-client.json"
    assert len(exchange["code_verifier"]) >= 43
    assert connection.access_token.startswith("pha_") and connection.refresh_token.startswith("phr_")
    assert "pha_" not in connection.access_token_encrypted and "phr_" not in connection.refresh_token_encrypted
    team.refresh_from_db()
    assert (team.posthog_project_id, team.posthog_project_token, team.posthog_host) == (
        str(PROJECT_ID),
        PROJECT_TOKEN,
        standin.url,
    )
    assert Onboarding.objects.get(team=team).steps["connect"]["seconds"] >= 0
    assert SESSION_KEY not in admin_client.session


def test_a_callback_with_another_state_is_refused_and_nothing_is_exchanged(
    admin_client: Client, standin: PostHogStandIn
) -> None:
    params = start_connect(admin_client, standin)
    params["state"] = "forged-" + params["state"]

    response = finish(admin_client, params)

    assert response.status_code == 400
    assert b"state mismatch" in response.content
    assert standin.token_requests == []
    assert not PostHogConnection.objects.exists()


def test_a_callback_without_a_connect_in_this_session_is_refused(admin_client: Client, standin: PostHogStandIn) -> None:
    params = start_connect(admin_client, standin)
    other = Client()
    other.force_login(get_user_model().objects.get(username="ada"))

    response = finish(other, params)

    assert response.status_code == 400
    assert standin.token_requests == []


def test_a_wrong_pkce_verifier_is_refused_by_the_token_endpoint(admin_client: Client, standin: PostHogStandIn) -> None:
    params = start_connect(admin_client, standin)
    session = admin_client.session
    flow = session[SESSION_KEY]
    flow["verifier"] = "x" * 64
    session[SESSION_KEY] = flow
    session.save()

    response = finish(admin_client, params)

    assert response.status_code == 400
    assert b"PKCE verification failed" in response.content
    assert [r["grant_type"] for r in standin.token_requests] == ["authorization_code"]
    assert not PostHogConnection.objects.exists()


def test_a_refusal_at_posthog_is_shown_not_raised(admin_client: Client, standin: PostHogStandIn) -> None:
    standin.approve = False

    response = finish(admin_client, start_connect(admin_client, standin))

    assert response.status_code == 400
    assert b"access_denied" in response.content
    assert not PostHogConnection.objects.exists()


def test_an_access_token_posthog_rejects_is_refreshed_once_and_the_call_succeeds(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    first = connect(admin_client, standin).access_token
    standin.expire_access_tokens()  # PostHog says it expired; our clock still thinks it is valid

    with posthog_client_for_team(Team.objects.get(pk=team.pk)) as client:
        result = client.hogql(query="SELECT 1")

    assert result.rows == ((1,),)
    assert standin.grant_types() == ["authorization_code", "refresh_token"]
    assert [s for m, p, s in standin.api_requests if p.endswith("/query/")] == [401, 200]
    connection = PostHogConnection.objects.get()
    assert connection.access_token != first and connection.status == PostHogConnection.Status.CONNECTED


def test_an_access_token_near_expiry_is_refreshed_before_it_is_used(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connection = connect(admin_client, standin)
    PostHogConnection.objects.filter(pk=connection.pk).update(expires_at=connection.connected_at)
    standin.expire_access_tokens()

    with posthog_client_for_team(Team.objects.get(pk=team.pk)) as client:
        client.hogql(query="SELECT 1")

    assert standin.grant_types() == ["authorization_code", "refresh_token"]
    assert [s for m, p, s in standin.api_requests if p.endswith("/query/")] == [200]


def test_a_revoked_grant_puts_the_team_in_reconnect_and_loses_nothing(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connect(admin_client, standin)
    service = Service.objects.create(
        team=team, name="checkout", source_kind=Service.SourceKind.POSTHOG, source_config={"pushdown": True}
    )
    baker.make(Pattern, service=service, pattern_id="p1", template="GET /x <NUM>", count=10)
    standin.revoke_all()

    run = analysis_run_create(service=service, start=None, end=None, method="pushdown")
    run.window_start, run.window_end = service.created_at.replace(minute=0, second=0, microsecond=0), service.created_at
    run.save()
    run = analysis_execute(run_id=run.pk)

    assert run.status == AnalysisRun.Status.FAILED and "refused to refresh" in run.error
    connection = PostHogConnection.objects.get()
    assert connection.status == PostHogConnection.Status.RECONNECT
    assert connection.refresh_token  # kept until the person reconnects or disconnects
    assert list(Pattern.objects.filter(service=service).values_list("pattern_id", "count")) == [("p1", 10)]
    with pytest.raises(ReconnectRequired):
        posthog_client_for_team(Team.objects.get(pk=team.pk))
    for page in ("/dashboard/", "/posthog-app/connect/", "/posthog-app/onboarding/"):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert b"Reconnect PostHog" in response.content, page

    connect(admin_client, standin)

    assert PostHogConnection.objects.get().status == PostHogConnection.Status.CONNECTED
    assert b"Reconnect PostHog" not in admin_client.get("/dashboard/").content


def test_disconnect_revokes_both_tokens_and_deletes_them(
    admin_client: Client, standin: PostHogStandIn, team: Team
) -> None:
    connect(admin_client, standin)
    assert standin.live_tokens() == 2

    response = admin_client.post("/posthog-app/disconnect/")

    assert response.status_code == 200
    assert b"revoked at PostHog" in response.content
    assert standin.live_tokens() == 0
    assert not PostHogConnection.objects.exists()


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"issuer": "https://evil.example"}, b"refusing to use it"),
        ({"token_endpoint": "https://evil.example/oauth/token/"}, b"on another host"),
        ({"code_challenge_methods_supported": ["plain"]}, b"PKCE with S256"),
    ],
)
def test_discovery_that_points_elsewhere_or_lacks_pkce_is_refused(
    admin_client: Client, standin: PostHogStandIn, patch: dict[str, Any], message: bytes
) -> None:
    standin.metadata_patch = patch

    response = admin_client.post("/posthog-app/connect/", {"region": "self_hosted", "self_hosted_url": standin.url})

    assert response.status_code == 400
    assert message in response.content
    assert SESSION_KEY not in admin_client.session


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("self_hosted", "ftp://posthog.example.com"),
        ("self_hosted", "http://posthog.example.com"),
        ("self_hosted", "https://user:pw@posthog.example.com"),
        ("self_hosted", "https://posthog.example.com/?next=evil"),
        ("self_hosted", "https://" + "a" * 400 + ".example"),
        ("mars", ""),
    ],
)
def test_bad_region_or_url_is_a_400_with_a_message(admin_client: Client, region: str, url: str) -> None:
    response = admin_client.post("/posthog-app/connect/", {"region": region, "self_hosted_url": url})

    assert response.status_code == 400
    assert b'class="error"' in response.content


def test_a_self_hosted_posthog_without_oauth_points_to_the_personal_key(
    admin_client: Client, standin: PostHogStandIn
) -> None:
    standin.discovery = False

    response = admin_client.post("/posthog-app/connect/", {"region": "self_hosted", "self_hosted_url": standin.url})

    assert response.status_code == 400
    assert b"offers no OAuth server" in response.content
    assert b"personal API key" in response.content


def test_a_member_who_is_not_admin_cannot_connect(team: Team, standin: PostHogStandIn) -> None:
    user = get_user_model().objects.create_user("bob", password="x")
    TeamMembership.objects.create(team=team, user=user, role=TeamMembership.Role.MEMBER)
    browser = Client()
    browser.force_login(user)

    response = browser.post("/posthog-app/connect/", {"region": "self_hosted", "self_hosted_url": standin.url})

    assert response.status_code == 403


def test_region_agnostic_connect_finds_the_region_that_accepts_the_token(
    admin_client: Client, standin: PostHogStandIn, team: Team, settings: Any
) -> None:
    elsewhere = PostHogStandIn().start()  # another region: it has never seen this grant, so it answers 401
    settings.LIPSERVICE_POSTHOG_REGIONS = {
        "any": {"issuer": standin.url, "api_hosts": [elsewhere.url, standin.url], "ingest_hosts": {}}
    }
    try:
        response = admin_client.post("/posthog-app/connect/", {"region": "any"})
        approved = httpx.get(response["Location"], follow_redirects=False)
        params = {k: v[0] for k, v in parse_qs(urlsplit(approved.headers["location"]).query).items()}
        finished = finish(admin_client, params)
    finally:
        elsewhere.stop()

    assert finished.status_code == 302
    connection = PostHogConnection.objects.get()
    assert (connection.region, connection.api_host) == ("any", standin.url)
    team.refresh_from_db()
    assert team.posthog_host == standin.url
    assert [s for _, p, s in elsewhere.api_requests if p == "/api/projects/"] == [401]
    assert standin.grant_types() == ["authorization_code"]  # the other region's 401 spent no refresh


def test_the_admin_shows_the_connection_state_and_never_a_token(admin_client: Client, standin: PostHogStandIn) -> None:
    connection = connect(admin_client, standin)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", password="x"))

    listing = staff.get("/admin/posthog_app/posthogconnection/")
    detail = staff.get(f"/admin/posthog_app/posthogconnection/{connection.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    assert standin.url.encode() in detail.content
    for secret in (connection.access_token, connection.refresh_token):
        assert secret.encode() not in listing.content + detail.content
