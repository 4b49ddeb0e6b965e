"""A new user, in a real browser, from "Connect with PostHog" to a proposed policy with its saving on screen.

The PostHog is a local stand-in on 127.0.0.1: its OAuth server approves, fetches our client metadata document and
checks the redirect URI, the code and the PKCE verifier; its HogQL runs in chdb over 24 hours of logs of three
services (1,200,000 lines), so the analysis is the real pushed-down GROUP BY on the template key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from lipservice.models import Team, TeamMembership
from posthog_app.models import Onboarding
from tests.e2e.conftest import Session
from tests.posthog_app.oauth_standin import PostHogStandIn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
chdb_session = pytest.importorskip("chdb.session")

SERVICES = ("checkout", "search", "billing")
LINES = 1_200_000
BUDGET_SECONDS = 300


@pytest.fixture(scope="module")
def posthog_with_logs() -> Iterator[PostHogStandIn]:
    session = chdb_session.Session()
    server = PostHogStandIn(chdb_session=session).start()
    server.load_last_day(lines=LINES, services=SERVICES, margin_seconds=120)
    server.cimd_fetcher = lambda client_id: httpx.get(client_id, timeout=10).json()
    yield server
    server.stop()
    session.close()


@pytest.fixture
def newcomer(chromium: Any, live_server: Any, settings: Any) -> Iterator[Session]:
    settings.LIPSERVICE_OUTBOUND_ALLOW = ["127.0.0.1"]  # the stand-in is local; the outbound door refuses loopback
    team = Team.objects.create(name="newco", display_name="NewCo")
    user = get_user_model().objects.create_user("newcomer", password="x")
    TeamMembership.objects.create(team=team, user=user, role=TeamMembership.Role.ADMIN)
    client = Client()
    client.force_login(user)
    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    host = live_server.url.split("//", 1)[1].split(":", 1)[0]
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    page = context.new_page()
    current = Session(page=page, base_url=live_server.url)
    page.on("pageerror", lambda error: current.problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda response: (
            current.problems.append(f"HTTP {response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    yield current
    context.close()


def test_connect_to_a_proposed_policy_with_its_saving_in_under_five_minutes(
    newcomer: Session, posthog_with_logs: PostHogStandIn
) -> None:
    page = newcomer.open("/dashboard/")
    page.get_by_role("link", name="Connect with PostHog").click()
    page.get_by_role("heading", name="Connect with PostHog").wait_for()
    page.get_by_label("Self-hosted PostHog URL").fill(posthog_with_logs.url)
    page.locator("input[name=region][value=self_hosted]").check()
    newcomer.shot("onboarding-1-connect")

    started = time.monotonic()
    page.get_by_role("button", name="Connect with PostHog").click()
    page.get_by_role("button", name="Analyse the last 24 hours").wait_for()
    for name in SERVICES:
        assert page.get_by_role("checkbox", name=name).is_checked()
    newcomer.shot("onboarding-2-services")

    page.get_by_role("button", name="Analyse the last 24 hours").click()
    page.wait_for_function(
        "() => { const p = document.getElementById('progress'); return p && p.value > 0 && p.value < 100; }",
        timeout=BUDGET_SECONDS * 1000,
    )
    partial = page.locator("#progress-text").inner_text()
    newcomer.shot("onboarding-3-progress")

    page.get_by_test_id("saving").first.wait_for(timeout=BUDGET_SECONDS * 1000)
    elapsed = time.monotonic() - started
    newcomer.shot("onboarding-4-proposals")

    proposals = page.get_by_test_id("proposal")
    assert proposals.count() == len(SERVICES)
    for index in range(len(SERVICES)):
        card = proposals.nth(index).inner_text()
        assert "Saves" in card and "a month" in card and "$" in card, card
        assert "Errors kept" in card and "Patterns kept" in card, card
    with newcomer.database():
        onboarding = Onboarding.objects.get(team__name="newco")
        counted = sum(s["lines"] for s in onboarding.progress["services"].values())
        to_policy = onboarding.seconds_to_first_policy
        savings = [s["saving"] for s in onboarding.progress["services"].values()]
    assert counted >= 1_000_000, counted
    assert counted == posthog_with_logs.count_lines()
    assert all(s["errors_kept"] == s["errors_total"] > 0 for s in savings)
    assert all(0 < s["reduction_percent"] < 100 for s in savings)
    assert not any("/logs/query/" in path for _, path, _ in posthog_with_logs.api_requests)
    assert to_policy is not None and to_policy < BUDGET_SECONDS
    assert elapsed < BUDGET_SECONDS, elapsed
    assert "%" in partial
    print(
        f"\nconnect -> first proposed policy: {to_policy:.1f} s recorded, {elapsed:.1f} s in the browser;"
        f" {counted:,} lines counted by pushdown; savings {[s['reduction_percent'] for s in savings]} %"
    )

    page.get_by_role("button", name="Preview the install (dry run)").click()
    page.get_by_test_id("install-actions").wait_for()
    assert "would create hog function" in page.get_by_test_id("install-actions").inner_text()
    assert posthog_with_logs.hog_functions == []
    newcomer.shot("onboarding-5-install-preview")

    page.goto(newcomer.base_url + "/dashboard/")
    clock = page.get_by_test_id("first-insight-clock")
    clock.wait_for()
    page.wait_for_load_state("networkidle")
    assert "first proposed policy" in clock.inner_text()
    newcomer.shot("onboarding-6-dashboard-clock")
    assert newcomer.problems == [], newcomer.problems
