"""The first screen after `make run`'s demo: the saving of the policies in force, the proof, and the demo's incident."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from lipservice.models import Team, TeamMembership
from lipservice.services import team_member_add
from patterns.models import Pattern
from tests.e2e.conftest import Session, browser_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MONEY = re.compile(r"-?\$[\d,]+(?:\.\d+)?")


@pytest.fixture
def demo_session(
    chromium: Any, live_server: Any, transactional_db: None, tmp_path: Path, settings: Any
) -> Iterator[Session]:
    # Two weeks instead of four keep the test short; the scan, the replay and the incident are the same. The demo's
    # files live in a temporary folder, which the operator's file-source roots must name.
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    call_command("load_demo", "--days", "14", "--directory", str(tmp_path), stdout=StringIO())
    user = User.objects.create_user("viewer", password="first-screen-password")
    team_member_add(team=Team.objects.get(name="demo"), user=user, role=TeamMembership.Role.MEMBER)
    with browser_session(chromium, live_server, user) as current:
        yield current


def _money(text: str) -> float:
    found = MONEY.search(text)
    assert found is not None, text
    return float(found.group(0).replace("$", "").replace(",", ""))


def _no_unreadable_amounts(session: Session) -> None:
    body = session.page.locator("body").inner_text()
    assert "<$0.01" not in body
    assert "NaN" not in body and "undefined" not in body
    session.page.wait_for_load_state("networkidle")
    assert session.problems == [], session.problems


def test_first_screen_tells_the_saving_with_its_proof_and_the_incident(demo_session: Session) -> None:
    page = demo_session.open("/dashboard/")
    page.get_by_test_id("proof").wait_for()
    assert "Demo data" in page.get_by_test_id("demo-banner").inner_text()

    without = _money(page.get_by_test_id("kpi-without-lipservice").inner_text())
    under = _money(page.get_by_test_id("kpi-under-the-policy-in-force").inner_text())
    savings = page.get_by_test_id("kpi-savings").inner_text()
    share = re.search(r"([\d.]+)% of the bill", savings)
    assert share is not None, savings
    assert float(share.group(1)) >= 50, savings
    assert _money(savings) == pytest.approx(without - under, abs=0.011)
    assert "measured from" in page.get_by_test_id("kpi-under-the-policy-in-force").inner_text()
    assert "GB" in page.get_by_test_id("kpi-without-lipservice").inner_text()

    rows = page.get_by_test_id("proof-row")
    assert rows.count() == 3
    for text in rows.all_inner_texts():
        assert re.search(r"\d+\.\d% .*\d+\.\d%", text.replace("\n", " ")), text
        assert "agrees" in text, text
        seen, kept = re.search(r"([\d,]+) → ([\d,]+)", text).groups()  # type: ignore[union-attr]
        assert seen == kept and seen != "0", text

    incidents = page.get_by_test_id("incident")
    assert incidents.count() >= 1
    critical = [t for t in incidents.all_inner_texts() if "critical" in t.lower()]
    assert critical, incidents.all_inner_texts()
    assert any("payments" in t for t in critical), critical
    assert page.get_by_test_id("alert-preview").first.is_visible()
    note = page.get_by_test_id("projection-note").inner_text()
    assert "Month-end" in note and "without LipService" in note and "current regime" in note, note
    _no_unreadable_amounts(demo_session)
    demo_session.shot("first-screen")


def test_service_page_explains_the_demo_incident(demo_session: Session) -> None:
    page = demo_session.open("/dashboard/services/payments-worker/")
    page.get_by_test_id("incident-explanation").first.wait_for()
    explanation = page.get_by_test_id("incident-explanation").first.inner_text()
    assert "What changed" in explanation and "GatewayUnavailable" in explanation
    assert "Likely causes" in explanation and "Next steps" in explanation
    assert "would have gone out" in explanation
    assert page.get_by_test_id("proof-row").count() == 1
    _no_unreadable_amounts(demo_session)
    demo_session.shot("service-incident")

    # The retry storm's pattern: its share kept rises under the anomaly boost.
    with demo_session.database():
        storm = Pattern.objects.get(service__name="checkout-api", template__startswith="cache hit").pattern_id
    page = demo_session.open(f"/dashboard/services/checkout-api/patterns/{storm}/")
    page.get_by_test_id("trend-chart").locator("svg .recharts-line").first.wait_for()
    assert "anomaly boost" in page.get_by_test_id("trend-chart").inner_text()
    _no_unreadable_amounts(demo_session)
    demo_session.shot("pattern-boost")
