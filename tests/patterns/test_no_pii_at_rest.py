"""Personal data in analysed logs is never stored: not in any column of any table, nor in any API answer after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from insights.services.anomalies import DetectedAnomaly, anomalies_record
from lipservice.models import Team
from patterns.models import Pattern, Service
from policies.services import policy_propose

pytestmark = pytest.mark.django_db

EMAILS = ["alice.smith@example.com", "bob+billing@shop.example.org", "carol@corp.example.net"]
TOKENS = [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "9f8e7d6cBearerOpaqueTokenValue",
]
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"]
PHONES = ["+1 415-555-0132", "(415) 555-0199", "+44 20 7946 0958"]
SECRETS = [*EMAILS, *TOKENS, *CARDS, *PHONES]


def _lines() -> list[dict[str, str]]:
    start = datetime.now(UTC) - timedelta(hours=3)
    lines: list[dict[str, str]] = []
    for i in range(60):
        email, token, card, phone = EMAILS[i % 3], TOKENS[i % 3], CARDS[i % 3], PHONES[i % 3]
        for message, severity in (
            (f"login ok for {email} via sso", "INFO"),
            (f"Authorization: Bearer {token} accepted for session", "INFO"),
            (f"api call with key {TOKENS[1]} from partner", "DEBUG"),
            (f"charging card {card} for order {1000 + i}", "INFO"),
            (f"sending SMS to {phone} for order {1000 + i}", "INFO"),
            (f"payment declined for {email} card {card} phone {phone}", "ERROR"),
        ):
            moment = start + timedelta(seconds=30 * i)
            lines.append({"message": message, "severity": severity, "timestamp": moment.isoformat()})
    return lines


def _text_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
            )
            return [(table, column) for table, column in cursor.fetchall()]
        tables = connection.introspection.table_names(cursor)
        found = []
        for table in tables:
            for column in connection.introspection.get_table_description(cursor, table):
                if any(kind in str(column.type_code).lower() for kind in ("text", "char", "json")):
                    found.append((table, column.name))
        return found


def _stored_values(needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, value) where a column's text holds one of the needles."""
    hits = []
    quote = connection.ops.quote_name
    cast = "::text" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            for needle in needles:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {quote(table)} WHERE {quote(column)}{cast} LIKE %s",  # noqa: S608
                    [f"%{needle}%"],
                )
                if cursor.fetchone()[0]:
                    hits.append((table, column, needle))
    return hits


def _needles() -> list[str]:
    """The values, and their digit runs as JSON or masking might leave them."""
    needles = list(SECRETS)
    needles += [card.replace(" ", "").replace("-", "") for card in CARDS]
    needles += ["415-555-0132", "555-0199", "7946 0958", "alice.smith", "carol@corp"]
    needles += [token[:20] for token in TOKENS]
    return needles


def _analyse(client: APIClient, run_on_commit: Callable[..., Any]) -> None:
    with run_on_commit(execute=True):
        response = client.post("/api/v1/patterns/analyze", {"service": "checkout", "lines": _lines()}, format="json")
    assert response.status_code == 202, response.json()
    run = client.get(f"/api/v1/patterns/runs/{response.json()['id']}").json()
    assert run["status"] == "succeeded", run


def test_personal_data_in_analysed_logs_is_stored_nowhere_and_served_nowhere(
    client: APIClient, team: Team, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    service = Service.objects.create(team=team, name="checkout")
    _analyse(client, django_capture_on_commit_callbacks)
    # What is built from the patterns afterwards: a policy, an anomaly and its incident's explanation.
    policy_propose(service=service, actor="user:test")
    error_pattern = next(p for p in Pattern.objects.filter(service=service) if p.error_count)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    anomalies_record(
        service=service,
        anomalies=[
            DetectedAnomaly(
                pattern=error_pattern,
                kind="spike",
                window_start=now - timedelta(hours=1),
                window_end=now,
                observed=60,
                expected=2,
                score=9,
                confidence=0.9,
                error_lines=60,
            )
        ],
    )

    assert _stored_values(_needles()) == []

    answers = [client.get("/api/v1/patterns/checkout")]
    for pattern in answers[0].json()["results" if "results" in answers[0].json() else "patterns"]:
        answers.append(client.get(f"/api/v1/patterns/checkout/{pattern['id']}"))
    for path in ("/api/v1/services/checkout", "/api/v1/policies/checkout/history", "/api/v1/insights/checkout"):
        answers.append(client.get(path))
    for answer in answers:
        assert answer.status_code == 200, (answer.request["PATH_INFO"], answer.content[:300])
        body = answer.content.decode()
        assert [needle for needle in _needles() if needle in body] == [], answer.request["PATH_INFO"]


def test_examples_stay_useful_once_redacted(
    client: APIClient, team: Team, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    Service.objects.create(team=team, name="checkout")
    _analyse(client, django_capture_on_commit_callbacks)

    examples = [e for p in Pattern.objects.filter(service__name="checkout") for e in p.examples]

    assert "payment declined for <EMAIL> card <CARD> phone <PHONE>" in examples
    assert any(e.startswith("Authorization: Bearer <SECRET>") for e in examples)
    assert any(e.startswith("login ok for <EMAIL>") for e in examples)


def test_no_example_line_is_stored_when_the_operator_says_so(
    client: APIClient, team: Team, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.LIPSERVICE_STORE_EXAMPLES = False
    service = Service.objects.create(team=team, name="checkout")
    _analyse(client, django_capture_on_commit_callbacks)

    service.refresh_from_db()
    assert Pattern.objects.filter(service=service).count() >= 5
    assert all(p.examples == [] for p in Pattern.objects.filter(service=service))
    assert all(row["example"] is None for row in service.miner_state["keys"])
    assert all(row["examples"] == [] for row in service.miner_state["patterns"])


def test_examples_stored_before_redaction_are_redacted_by_the_migration(team: Team) -> None:
    import importlib

    from django.apps import apps

    from patterns.engine.miner import Miner

    service = Service.objects.create(team=team, name="legacy")
    miner = Miner()
    miner.add(f"login ok for {EMAILS[0]} with Bearer {TOKENS[2]}")
    miner.mine()
    legacy = miner.to_dict()
    legacy.pop("redacted")
    legacy["keys"][0]["example"] = legacy["patterns"][0]["examples"][0] = f"Bearer {TOKENS[2]} {EMAILS[0]}"
    Service.objects.filter(pk=service.pk).update(miner_state=legacy)
    Pattern.objects.create(service=service, pattern_id="old", template="x", examples=[f"mail {EMAILS[1]}"])

    migration = importlib.import_module("patterns.migrations.0004_redact_stored_examples")
    migration.redact_stored(apps, None)

    assert _stored_values(_needles()) == []
    assert Pattern.objects.get(pattern_id="old").examples == ["mail <EMAIL>"]
    service.refresh_from_db()
    assert service.miner_state["redacted"] is True
    assert service.miner_state["patterns"][0]["examples"] == ["Bearer <SECRET> <EMAIL>"]
