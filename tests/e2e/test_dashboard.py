"""The dashboard and the policy editor in a real browser: pages render with data, edits publish, no console errors."""

from __future__ import annotations

import re

import pytest

from policies.models import PolicyVersion
from tests.e2e.conftest import Session
from tests.e2e.dashboard_data import SERVICE, DashboardData

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _settled(session: Session) -> None:
    session.page.wait_for_load_state("networkidle")
    assert session.problems == [], session.problems
    assert session.page.locator(".status-error").count() == 0, session.page.locator(".status-error").all_inner_texts()


def test_anonymous_visitors_are_sent_to_the_login(chromium: object, live_server: object) -> None:
    context = chromium.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{live_server.url}/dashboard/")  # type: ignore[attr-defined]
    assert "/admin/login/" in page.url and "next=/dashboard/" in page.url
    context.close()


def test_overview_shows_costs_projection_and_services(session: Session) -> None:
    page = session.open("/dashboard/")
    page.get_by_test_id("projection-chart").locator("svg .recharts-bar-rectangle").first.wait_for()
    savings = page.get_by_test_id("kpi-savings").inner_text()
    assert re.search(r"\$\d", savings), savings
    rows = page.get_by_test_id("service-table").locator("tbody tr")
    assert rows.count() == 1 and SERVICE in rows.first.inner_text()
    _settled(session)
    session.shot("overview")


def test_service_page_lists_patterns_history_and_diffs(session: Session, dashboard_data: DashboardData) -> None:
    page = session.open(f"/dashboard/services/{SERVICE}/")
    table = page.get_by_test_id("pattern-table")
    table.locator("tbody tr").first.wait_for()
    assert table.locator("tbody tr").count() == 7
    assert "SELECT * FROM <*> WHERE id = <NUM> (<NUM>)" in table.locator("tbody tr").first.inner_text()
    history = page.get_by_test_id("policy-history")
    history.get_by_role("button", name="Diff from v1").click()
    diff = page.get_by_test_id("policy-diff")
    diff.wait_for()
    assert "v1 → v2" in diff.inner_text() and "cache hit key=<ID>" in diff.inner_text()
    _settled(session)
    session.shot("service")


def test_pattern_page_shows_trend_examples_and_reasoning(session: Session) -> None:
    page = session.open(f"/dashboard/services/{SERVICE}/patterns/sql/")
    page.get_by_test_id("trend-chart").locator("svg .recharts-area").first.wait_for()
    assert "SELECT * FROM orders WHERE id = 42 (42)" in page.get_by_test_id("examples").inner_text()
    assert "sampled at 0.02" in page.locator("body").inner_text()
    _settled(session)
    session.shot("pattern")


def test_editor_validates_live_and_publishes_a_new_version(session: Session, dashboard_data: DashboardData) -> None:
    page = session.open(f"/dashboard/services/{SERVICE}/policy/")
    validity = page.get_by_test_id("validity")
    page.wait_for_function("document.querySelector('[data-testid=validity]')?.textContent.includes('Passes')")

    page.get_by_label("INFO rate", exact=True).fill("12")
    page.get_by_label("INFO rate", exact=True).press("Enter")
    assert "INFO lines" in page.get_by_test_id("draft-diff").inner_text()
    page.wait_for_function("document.querySelector('[data-testid=validity]')?.textContent.includes('Passes')")
    session.shot("editor-draft")

    page.get_by_role("button", name="Publish").click()
    page.get_by_test_id("editor-message").wait_for()
    assert "Published version 3" in page.get_by_test_id("editor-message").inner_text()
    with session.database():
        active = PolicyVersion.objects.get(service=dashboard_data.service, status=PolicyVersion.Status.ACTIVE)
    assert active.number == 3
    assert active.document["severity_rates"]["INFO"] == 0.12
    assert active.created_by.endswith(dashboard_data.user.get_username())
    assert validity.count() == 1
    _settled(session)


def test_editor_shows_the_checkers_refusal_inline_and_blocks_publishing(session: Session) -> None:
    page = session.open(f"/dashboard/services/{SERVICE}/policy/")
    page.wait_for_function("document.querySelector('[data-testid=validity]')?.textContent.includes('Passes')")
    rate = page.get_by_label("Rate for deadlock", exact=True)
    rate.fill("0")
    rate.press("Enter")
    page.wait_for_function("document.querySelector('[data-testid=validity]')?.textContent.includes('problem')")
    assert page.locator(".field-issues").count() >= 1
    assert page.get_by_role("button", name="Publish").is_disabled()
    session.shot("editor-refused")
    _settled(session)


def test_editor_simulates_before_publishing(session: Session) -> None:
    page = session.open(f"/dashboard/services/{SERVICE}/policy/")
    page.wait_for_function("document.querySelector('[data-testid=validity]')?.textContent.includes('Passes')")
    page.get_by_role("button", name="Simulate").click()
    simulation = page.get_by_test_id("simulation")
    simulation.wait_for()
    text = simulation.inner_text().lower()  # headings are upper-cased by CSS
    kept = re.search(r"errors kept\s+([\d,]+) / ([\d,]+)", text)
    assert kept is not None, text
    assert kept.group(1) == kept.group(2)
    _settled(session)
    session.shot("editor-simulation")


def test_rollback_from_the_history_republishes_an_old_version(session: Session, dashboard_data: DashboardData) -> None:
    page = session.open(f"/dashboard/services/{SERVICE}/")
    history = page.get_by_test_id("policy-history")
    history.get_by_role("button", name="Roll back to this").first.click()
    page.get_by_text("Version 1 republished as version 3.").wait_for()
    with session.database():
        active = PolicyVersion.objects.get(service=dashboard_data.service, status=PolicyVersion.Status.ACTIVE)
    assert active.number == 3
    assert active.document["patterns"] == dashboard_data.first_version.document["patterns"]
    _settled(session)


def test_admin_edit_view_hosts_the_same_editor(session: Session, dashboard_data: DashboardData) -> None:
    user = dashboard_data.user
    user.is_superuser = True
    user.save()
    page = session.open(f"/admin/policies/policyversion/{dashboard_data.first_version.pk}/edit-document/")
    page.get_by_test_id("policy-editor").wait_for()
    assert "Editing from v1 (active is v2)" in page.locator("body").inner_text()
    assert page.locator("#policy-document-form textarea").input_value().startswith("{")
    _settled(session)
    session.shot("admin-editor")
