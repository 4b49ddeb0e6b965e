"""Text that came from logs cannot act in an alert: no Slack mention or link, no control characters anywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from model_bakery import baker

from insights.models import AlertChannel, Incident
from insights.services.alerts import alert_payload
from patterns.models import Service

pytestmark = pytest.mark.django_db

LOGGED = "db down <!channel> <!here> <@U024BE7LH> <https://evil.example|click me> & \x1b[31mred\u202e"


@pytest.fixture
def incident(service: Service) -> Incident:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    incident: Incident = baker.make(
        Incident,
        team=service.team,
        service=service,
        dedup_key="checkout:1",
        severity="critical",
        window_start=start,
        window_end=start,
        title=LOGGED,
        explanation={
            "likely_causes": [LOGGED],
            "debugging_steps": [LOGGED],
            "what_changed": [LOGGED],
            "logs_url": "https://app.posthog.com/logs|<!channel>",
        },
    )
    return incident


def test_a_logged_channel_mention_does_not_ping_in_slack(incident: Incident) -> None:
    channel = baker.prepare(AlertChannel, kind=AlertChannel.Kind.SLACK, team=incident.team)
    body = json.dumps(alert_payload(channel=channel, incident=incident))
    assert "<!channel>" not in body and "<!here>" not in body and "<@U024BE7LH>" not in body
    assert "<https://evil.example" not in body
    assert "&lt;!channel&gt;" in body and "&amp;" in body
    assert "\x1b" not in body and "\u202e" not in body


@pytest.mark.parametrize("kind", [AlertChannel.Kind.PAGERDUTY, AlertChannel.Kind.WEBHOOK])
def test_pagerduty_and_webhook_payloads_carry_no_control_characters(incident: Incident, kind: str) -> None:
    channel = baker.prepare(AlertChannel, kind=kind, team=incident.team)
    payload = alert_payload(channel=channel, incident=incident)
    text = json.dumps(payload, ensure_ascii=False)
    assert "\x1b" not in text and "\u202e" not in text
    assert "db down" in text
