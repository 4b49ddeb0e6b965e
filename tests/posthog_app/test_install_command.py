"""`manage.py posthog_app install` against a local PostHog: creates, then updates in place, dry run changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from lipservice.models import Team
from patterns.models import Pattern, Service
from policies.exporters.hog import HOG_FUNCTION_NAME, hog_policy_index
from policies.services import policy_create
from tests.posthog_app.fake_posthog import FakePostHog, fake_posthog

pytestmark = [pytest.mark.posthog, pytest.mark.usefixtures("loopback_peers")]

POLICY: dict[str, Any] = {
    "service": "checkout-api",
    "severity_rates": {"DEBUG": 0.05, "INFO": 0.2, "WARN": 0.8},
    "default_rate": 0.5,
    "patterns": [
        {"id": "health", "template": "GET /healthz <NUM> <NUM>", "rate": 0.0, "reason": "health checks"},
        {"id": "pool", "template": "connection pool stats: <*> <*> <*>", "rate": 0.1, "reason": "noise"},
    ],
}


@pytest.fixture
def posthog() -> Iterator[FakePostHog]:
    with fake_posthog() as server:
        yield server


@pytest.fixture
def connected_team(db: None, posthog: FakePostHog) -> Team:
    team = Team.objects.create(name="acme", posthog_host=posthog.base_url, posthog_project_id=posthog.project_id)
    team.posthog_personal_api_key = posthog.token
    team.save()
    service = Service.objects.create(team=team, name="checkout-api")
    for pattern in POLICY["patterns"]:
        Pattern.objects.create(
            service=service,
            pattern_id=pattern["id"],
            template=pattern["template"],
            count=500_000,
            bytes=50_000_000,
            severity_counts={"INFO": 500_000},
        )
    Service.objects.create(team=team, name="no-policy-yet")
    policy_create(service=service, document=POLICY, actor="test", activate=True)
    return team


def _install(*args: str) -> str:
    out = StringIO()
    call_command("posthog_app", "install", "--team", "acme", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_first_install_creates_function_and_rules(connected_team: Team, posthog: FakePostHog) -> None:
    output = _install()

    functions = list(posthog.objects["hog_functions"].values())
    rules = {r["name"]: r for r in posthog.objects["logs/sampling_rules"].values()}
    assert [f["name"] for f in functions] == [HOG_FUNCTION_NAME]
    assert functions[0]["type"] == "transformation_log"
    assert set(functions[0]["inputs"]["policies"]["value"]) == {"checkout-api"}
    assert set(rules) == {"lipservice:checkout-api:severity", "lipservice:checkout-api:drop:health"}
    assert rules["lipservice:checkout-api:severity"]["config"]["actions"]["ERROR"] == {"type": "keep"}
    assert f"create hog function '{HOG_FUNCTION_NAME}'" in output
    assert "create drop rule 'lipservice:checkout-api:severity'" in output
    assert "skip service 'no-policy-yet': no active policy" in output


@pytest.mark.django_db
def test_second_install_is_a_no_op_then_updates_in_place(connected_team: Team, posthog: FakePostHog) -> None:
    _install()
    writes = len(posthog.writes)

    again = _install()
    assert len(posthog.writes) == writes, "an unchanged policy must not write"
    assert "unchanged hog function" in again

    changed = {**POLICY, "patterns": [{**POLICY["patterns"][0], "rate": 0.2}, POLICY["patterns"][1]]}
    policy_create(service=Service.objects.get(name="checkout-api"), document=changed, actor="test", activate=True)
    output = _install()

    assert len(posthog.objects["hog_functions"]) == 1
    assert f"update hog function '{HOG_FUNCTION_NAME}'" in output
    assert "disable drop rule 'lipservice:checkout-api:drop:health'" in output
    rules = {r["name"]: r for r in posthog.objects["logs/sampling_rules"].values()}
    assert rules["lipservice:checkout-api:drop:health"]["enabled"] is False
    entry = next(iter(posthog.objects["hog_functions"].values()))["inputs"]["policies"]["value"]["checkout-api"]
    buckets, fallback = hog_policy_index(entry)
    rates = {ref.pattern_id: ref.rate for refs in [fallback, *(r for b in buckets for r in b.values())] for ref in refs}
    assert rates["health"] == 0.2
    assert all(method == "PATCH" for method, _ in posthog.writes[writes:])


@pytest.mark.django_db
def test_dry_run_changes_nothing_and_says_what_it_would_do(connected_team: Team, posthog: FakePostHog) -> None:
    output = _install("--dry-run")

    assert posthog.writes == []
    assert posthog.objects["hog_functions"] == {}
    assert f"[dry run] would create hog function '{HOG_FUNCTION_NAME}'" in output
    assert "[dry run] would create drop rule 'lipservice:checkout-api:drop:health'" in output
    assert "1 of 1 pattern(s) at rate 0 dropped natively by PostHog" in output


@pytest.mark.django_db
def test_wrong_key_is_reported_as_a_failure(connected_team: Team, posthog: FakePostHog) -> None:
    connected_team.posthog_personal_api_key = "phx_wrong"
    connected_team.save()
    with pytest.raises(CommandError, match="failed"):
        _install()
    assert posthog.writes == []


@pytest.mark.django_db
def test_unknown_team_is_an_error() -> None:
    with pytest.raises(CommandError, match="no team"):
        call_command("posthog_app", "install", "--team", "nope", stdout=StringIO())
