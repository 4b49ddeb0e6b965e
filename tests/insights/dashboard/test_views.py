"""Dashboard shells: login required, team-scoped, 404 for unknown objects, and the bundle wired in."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from lipservice.models import Team
from lipservice.services import team_member_add
from tests.e2e.dashboard_data import SERVICE, DashboardData, build_dashboard_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def data() -> DashboardData:
    return build_dashboard_data()


@pytest.fixture
def browser(data: DashboardData) -> Client:
    client = Client()
    client.force_login(data.user)
    return client


@pytest.mark.parametrize(
    "url",
    ["/dashboard/", f"/dashboard/services/{SERVICE}/", f"/dashboard/services/{SERVICE}/policy/"],
)
def test_pages_redirect_anonymous_users_to_the_admin_login(url: str, data: DashboardData) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize(
    ("url", "attributes"),
    [
        ("/dashboard/", {"page": "overview"}),
        (f"/dashboard/services/{SERVICE}/", {"page": "service", "service": SERVICE}),
        (f"/dashboard/services/{SERVICE}/patterns/sql/", {"page": "pattern", "service": SERVICE, "pattern": "sql"}),
        (f"/dashboard/services/{SERVICE}/policy/?version=1", {"page": "editor", "service": SERVICE, "version": "1"}),
    ],
)
def test_pages_mount_the_bundle_with_their_parameters(browser: Client, url: str, attributes: dict[str, str]) -> None:
    response = browser.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    root = re.search(r'<main id="lipservice-root"([^>]*)>', html)
    assert root is not None, "the bundle is not built (npm run build in frontend/)"
    for key, value in attributes.items():
        assert f'data-{key}="{value}"' in root.group(1)
    assert re.search(r'src="/static/dashboard/main\.js\?v=[0-9a-f]{12}"', html)
    assert f'href="/dashboard/services/{SERVICE}/"' in html, "the service is in the navigation"
    assert "csrftoken" in response.cookies


@pytest.mark.parametrize(
    "url",
    ["/dashboard/services/nope/", f"/dashboard/services/{SERVICE}/patterns/nope/", "/dashboard/services/nope/policy/"],
)
def test_unknown_service_or_pattern_is_404(browser: Client, url: str) -> None:
    assert browser.get(url).status_code == 404


def test_another_teams_service_is_404(data: DashboardData) -> None:
    other = get_user_model().objects.create_user(username="mallory", password="x")
    team_member_add(team=Team.objects.create(name="globex"), user=other)
    client = Client()
    client.force_login(other)
    assert client.get(f"/dashboard/services/{SERVICE}/").status_code == 404


def test_user_without_a_team_gets_an_explanation(data: DashboardData) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user(username="loner", password="x"))
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert b"not a member of any team" in response.content
