"""Incidents and alerts: grouping, de-duplication, cooldown, quiet hours, wire formats, retries and the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from insights.models import AlertDelivery, Anomaly, Incident
from insights.services.alerts import alert_channel_create
from insights.services.anomalies import DetectedAnomaly, anomalies_record
from patterns.models import Pattern, Service
from policies.webhooks import SIGNATURE_HEADER, verify
from tests.insights.conftest import Receiver, make_pattern

pytestmark = pytest.mark.usefixtures("loopback_peers")

T0 = datetime(2026, 11, 21, 23, tzinfo=UTC)


def spike(pattern: Pattern, start: datetime, *, hours: int = 1, score: float = 8.0, errors: int = 0) -> DetectedAnomaly:
    return DetectedAnomaly(
        pattern=pattern,
        kind="spike",
        window_start=start,
        window_end=start + timedelta(hours=hours),
        observed=900.0,
        expected=100.0,
        score=score,
        confidence=0.9,
        error_lines=errors,
    )


@pytest.fixture
def incident_patterns(service: Service) -> list[Pattern]:
    return [
        make_pattern(
            service,
            "p_timeout",
            "upstream payments-service timed out after <NUM>ms, retrying attempt=<NUM>",
            severity_counts={"WARN": 100},
        ),
        make_pattern(
            service,
            "p_trace",
            "payments.errors.UpstreamTimeout: payments-service did not answer <*>",
            severity_counts={"ERROR": 100},
            count=100,
        ),
        make_pattern(
            service,
            "p_access",
            "POST /api/v1/checkout HTTP/1.1 <NUM> <NUM>B <NUM>ms request_id=<*>",
            severity_counts={"INFO": 100},
        ),
    ]


def related_incident(patterns: list[Pattern], start: datetime = T0, errors: int = 0) -> list[DetectedAnomaly]:
    """One incident seen through three patterns, their windows overlapping but not identical."""
    return [
        spike(patterns[0], start),
        spike(patterns[1], start + timedelta(minutes=0), hours=2, errors=errors),
        spike(patterns[2], start + timedelta(hours=1)),
    ]


@pytest.mark.django_db(transaction=True)
def test_three_related_patterns_make_one_incident_and_one_alert(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver
) -> None:
    alert_channel_create(team=service.team, name="slack", kind="slack", url=receiver.base + "/services/T/B/x")
    incidents = anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    assert len(incidents) == 1
    assert Anomaly.objects.filter(incident=incidents[0]).count() == 3
    assert len(receiver.requests) == 1
    path, headers, _ = receiver.requests[0]
    body = receiver.bodies[0]
    assert path == "/services/T/B/x" and headers["Content-Type"] == "application/json"
    assert set(body) == {"text", "blocks"}
    assert "3 pattern(s) of checkout moved together" in body["text"]
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "[WARNING] log anomaly"}}
    texts = json.dumps(body["blocks"])
    assert "dependency is slow or unreachable" in texts and "/logs?dateRange=" in texts and "<id>" not in texts
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.response_status == 200
    assert delivery.payload == body


@pytest.mark.django_db(transaction=True)
def test_a_repeat_inside_the_cooldown_sends_nothing(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver
) -> None:
    alert_channel_create(team=service.team, name="slack", kind="slack", url=receiver.base, cooldown_seconds=3600)
    anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    # The same detection again (an overlapping scan), then a new incident of the same service hours later.
    anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    anomalies_record(service=service, anomalies=[spike(incident_patterns[0], T0 + timedelta(hours=6))])
    assert len(receiver.requests) == 1
    assert Incident.objects.count() == 2
    statuses = sorted(AlertDelivery.objects.values_list("status", "reason"))
    assert statuses[0] == ("delivered", "")
    assert statuses[1][0] == "suppressed" and statuses[1][1].startswith("cooldown")
    assert len(statuses) == 2


@pytest.mark.django_db(transaction=True)
def test_escalation_to_critical_alerts_again_under_the_same_dedup_key(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver
) -> None:
    alert_channel_create(team=service.team, name="pd", kind="pagerduty", url=receiver.base + "/v2/enqueue", secret="R1")
    anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    anomalies_record(service=service, anomalies=related_incident(incident_patterns, errors=500))
    severities = [b["payload"]["severity"] for b in receiver.bodies]
    assert severities == ["warning", "critical"]
    assert len({b["dedup_key"] for b in receiver.bodies}) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("errors", "bypass", "sent"),
    [(0, True, False), (500, True, True), (500, False, False)],
)
def test_quiet_hours_hold_back_non_critical(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver, errors: int, bypass: bool, sent: bool
) -> None:
    zone = "America/New_York"
    local = datetime.now(ZoneInfo(zone))
    window = (
        (local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        (local + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    alert_channel_create(
        team=service.team,
        name="slack",
        kind="slack",
        url=receiver.base,
        quiet_hours=window,
        timezone_name=zone,
        critical_bypasses_quiet_hours=bypass,
    )
    anomalies_record(service=service, anomalies=related_incident(incident_patterns, errors=errors))
    assert len(receiver.requests) == int(sent)
    delivery = AlertDelivery.objects.get()
    assert delivery.status == ("delivered" if sent else "suppressed")
    assert delivery.severity == ("critical" if errors else "warning")
    if not sent:
        assert delivery.reason.startswith("quiet hours") and zone in delivery.reason


@pytest.mark.django_db(transaction=True)
def test_quiet_hours_outside_the_window_let_alerts_through(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver
) -> None:
    now = datetime.now(UTC)
    window = ((now + timedelta(hours=2)).time(), (now + timedelta(hours=3)).time())
    alert_channel_create(team=service.team, name="slack", kind="slack", url=receiver.base, quiet_hours=window)
    anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_pagerduty_receives_an_events_v2_trigger(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver
) -> None:
    alert_channel_create(
        team=service.team, name="pd", kind="pagerduty", url=receiver.base + "/v2/enqueue", secret="routing-123"
    )
    incident = anomalies_record(service=service, anomalies=related_incident(incident_patterns, errors=50))[0]
    assert len(receiver.requests) == 1
    path, _, _ = receiver.requests[0]
    body = receiver.bodies[0]
    assert path == "/v2/enqueue"
    assert body["routing_key"] == "routing-123"
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == incident.dedup_key == "lipservice:acme:checkout:20261121T2300"
    payload = body["payload"]
    assert set(payload) >= {"summary", "source", "severity", "timestamp", "custom_details"}
    assert payload["severity"] == "critical" and payload["source"] == "lipservice/acme/checkout"
    assert datetime.fromisoformat(payload["timestamp"]) == T0
    assert payload["custom_details"]["window_end"] == (T0 + timedelta(hours=2)).isoformat()
    assert "routing-123" not in json.dumps(AlertDelivery.objects.get().payload)


@pytest.mark.django_db(transaction=True)
def test_generic_webhook_is_signed(service: Service, incident_patterns: list[Pattern], receiver: Receiver) -> None:
    _, secret = alert_channel_create(team=service.team, name="hook", kind="webhook", url=receiver.base + "/hook")
    anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    _, headers, raw = receiver.requests[0]
    assert verify(secret=secret, body=raw, header=headers[SIGNATURE_HEADER])
    assert not verify(secret="other", body=raw, header=headers[SIGNATURE_HEADER])
    assert receiver.bodies[0]["event"] == "incident.triggered" and receiver.bodies[0]["service"] == "checkout"


@pytest.mark.django_db(transaction=True)
def test_failed_alerts_are_retried_and_logged(service: Service, incident_patterns: list[Pattern]) -> None:
    flaky = Receiver(codes=(500, 429))
    try:
        alert_channel_create(team=service.team, name="pd", kind="pagerduty", url=flaky.base, secret="k")
        anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    finally:
        flaky.close()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, len(flaky.requests)) == ("delivered", 3, 3)


@pytest.mark.django_db(transaction=True)
def test_a_refused_alert_is_not_retried(service: Service, incident_patterns: list[Pattern]) -> None:
    refusing = Receiver(codes=(400,))
    try:
        alert_channel_create(team=service.team, name="slack", kind="slack", url=refusing.base)
        anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    finally:
        refusing.close()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 400)


@pytest.mark.django_db(transaction=True)
def test_channels_filter_by_severity_and_service(
    service: Service, incident_patterns: list[Pattern], receiver: Receiver
) -> None:
    alert_channel_create(
        team=service.team, name="critical-only", kind="slack", url=receiver.base, min_severity="critical"
    )
    alert_channel_create(team=service.team, name="other-service", kind="slack", url=receiver.base, services=["search"])
    anomalies_record(service=service, anomalies=related_incident(incident_patterns))
    assert receiver.requests == []
    assert not AlertDelivery.objects.exists()


def test_quiet_hours_wrap_midnight_in_the_channel_time_zone() -> None:
    from insights.engine.alerting import QuietHours

    quiet = QuietHours(start=time(22), end=time(7), timezone="Europe/Paris")
    assert quiet.active(datetime(2026, 1, 10, 22, 30, tzinfo=UTC))  # 23:30 in Paris
    assert quiet.active(datetime(2026, 1, 10, 5, 0, tzinfo=UTC))  # 06:00 in Paris
    assert not quiet.active(datetime(2026, 1, 10, 6, 0, tzinfo=UTC))  # 07:00 in Paris
    assert not quiet.suppresses(severity="critical", moment=datetime(2026, 1, 10, 22, 30, tzinfo=UTC))
    assert quiet.suppresses(severity="warning", moment=datetime(2026, 1, 10, 22, 30, tzinfo=UTC))


@pytest.mark.django_db
def test_stale_incidents_resolve_and_a_later_anomaly_opens_a_new_one(
    service: Service, incident_patterns: list[Pattern]
) -> None:
    from insights.services.anomalies import incident_resolve_stale

    first = anomalies_record(service=service, anomalies=related_incident(incident_patterns))[0]
    assert incident_resolve_stale(service=service, now=T0 + timedelta(hours=4)) == 0
    assert incident_resolve_stale(service=service, now=T0 + timedelta(hours=9)) == 1
    later = anomalies_record(
        service=service, anomalies=[spike(incident_patterns[0], T0 + timedelta(hours=2, minutes=30))]
    )
    assert later[0].pk != first.pk and later[0].status == "open"
    first.refresh_from_db()
    assert first.status == "resolved"
