"""Alert channels, the decision to notify an incident on each, and the payloads delivered to them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from django.db import transaction
from django.utils import timezone

from insights.engine.alerting import (
    RANK,
    QuietHours,
    severity_at_least,
)
from insights.models import AlertChannel, AlertDelivery, Incident
from insights.selectors import alert_channels_for, alert_last_sent
from insights.services.explanations import incident_explain_with_llm
from lipservice.delivery import deliver, plain_list, plain_text, signed_headers, slack_link, slack_text
from lipservice.errors import DomainError
from lipservice.models import Team

if TYPE_CHECKING:
    pass


PAGERDUTY_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


def alert_channel_create(
    *,
    team: Team,
    name: str,
    kind: str,
    url: str = "",
    secret: str = "",
    min_severity: str = "warning",
    cooldown_seconds: int = 1800,
    quiet_hours: tuple[time, time] | None = None,
    timezone_name: str = "UTC",
    critical_bypasses_quiet_hours: bool = True,
    services: Sequence[str] = (),
) -> tuple[AlertChannel, str]:
    """A new channel; for a signed webhook without a secret one is made and returned (shown once)."""
    if kind not in AlertChannel.Kind.values:
        raise DomainError(f"Unknown channel kind {kind!r}.", details={"kind": list(AlertChannel.Kind.values)})
    if kind in {AlertChannel.Kind.SLACK, AlertChannel.Kind.WEBHOOK} and not url:
        raise DomainError("A Slack or webhook channel needs a URL.")
    if kind == AlertChannel.Kind.PAGERDUTY and not secret:
        raise DomainError("A PagerDuty channel needs its integration's routing key.")
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"Unknown time zone {timezone_name!r}.") from exc
    if kind == AlertChannel.Kind.WEBHOOK and not secret:
        secret = "whsec_" + secrets.token_urlsafe(24)
    channel = AlertChannel(
        team=team,
        name=name,
        kind=kind,
        url=url,
        min_severity=min_severity,
        cooldown_seconds=cooldown_seconds,
        quiet_hours_start=quiet_hours[0] if quiet_hours else None,
        quiet_hours_end=quiet_hours[1] if quiet_hours else None,
        timezone=timezone_name,
        critical_bypasses_quiet_hours=critical_bypasses_quiet_hours,
        services=list(services),
    )
    channel.secret = secret
    channel.save()
    return channel, secret


def incident_notify_enqueue(incident_id: int) -> None:
    from insights.tasks import notify_incident

    notify_incident.delay(incident_id=incident_id)


def incident_notify(*, incident_id: int, now: datetime | None = None) -> list[AlertDelivery]:
    """Decide, per channel, whether this incident goes out now; record suppressed ones with the reason.

    - De-duplication: a channel hears of an incident once, again only if its severity rose (same dedup key, so
      PagerDuty updates the same alert).
    - Cooldown: after an alert about a service, a channel stays silent on that service for `cooldown_seconds`,
      unless the new incident is more severe than the last one sent.
    - Quiet hours: in the channel's local window only critical alerts go out, and only when
      `critical_bypasses_quiet_hours`; suppressed alerts are logged, not queued for later.
    - A delivery that failed after its retries counts as sent for de-duplication; it stays in the delivery log.
    """
    moment = now or timezone.now()
    created: list[AlertDelivery] = []
    with transaction.atomic():
        incident = Incident.objects.select_for_update().select_related("service", "team").get(pk=incident_id)
        for channel in alert_channels_for(team=incident.team, service=incident.service):
            delivery = _decide(channel=channel, incident=incident, moment=moment)
            if delivery is not None:
                created.append(delivery)
    pending = [d for d in created if d.status == AlertDelivery.Status.PENDING]
    if not pending:
        return created
    # The LLM is asked only when an alert goes out, and outside any transaction (it can take seconds).
    llm_explanation = incident_explain_with_llm(incident_id=incident_id)
    with transaction.atomic():
        if llm_explanation:
            incident.refresh_from_db(fields=["explanation", "title"])
            for delivery in pending:
                delivery.payload = alert_payload(channel=delivery.channel, incident=incident)
                delivery.save(update_fields=["payload"])
        for delivery in pending:
            delivery_id = delivery.pk
            transaction.on_commit(lambda d=delivery_id: _enqueue_delivery(d), robust=True)  # type: ignore[misc]
    return created


def _enqueue_delivery(delivery_id: int) -> None:
    from insights.tasks import deliver_alert

    deliver_alert.delay(delivery_id=delivery_id)


def _decide(*, channel: AlertChannel, incident: Incident, moment: datetime) -> AlertDelivery | None:
    severity = incident.severity
    if not severity_at_least(severity, channel.min_severity):
        return None
    sent = AlertDelivery.objects.filter(
        channel=channel,
        incident=incident,
        status__in=[AlertDelivery.Status.PENDING, AlertDelivery.Status.DELIVERED, AlertDelivery.Status.FAILED],
    )
    if any(RANK[d.severity] >= RANK[severity] for d in sent):
        return None
    reason = ""
    last = alert_last_sent(channel=channel, service=incident.service)
    if (
        last is not None
        and last.incident_id != incident.pk
        and moment - last.created_at < timedelta(seconds=channel.cooldown_seconds)
        and RANK[severity] <= RANK[last.severity]
    ):
        reason = f"cooldown: {channel.cooldown_seconds}s after the alert of {last.created_at:%H:%M} UTC"
    elif channel.quiet_hours_start is not None and channel.quiet_hours_end is not None:
        quiet = QuietHours(
            start=channel.quiet_hours_start,
            end=channel.quiet_hours_end,
            timezone=channel.timezone,
            bypass_critical=channel.critical_bypasses_quiet_hours,
        )
        if quiet.suppresses(severity=severity, moment=moment):
            reason = f"quiet hours {channel.quiet_hours_start:%H:%M}-{channel.quiet_hours_end:%H:%M} {channel.timezone}"
    if reason:
        already = AlertDelivery.objects.filter(
            channel=channel, incident=incident, status=AlertDelivery.Status.SUPPRESSED, severity=severity
        ).exists()
        if already:
            return None
        return AlertDelivery.objects.create(
            channel=channel, incident=incident, severity=severity, status=AlertDelivery.Status.SUPPRESSED, reason=reason
        )
    return AlertDelivery.objects.create(
        channel=channel, incident=incident, severity=severity, payload=alert_payload(channel=channel, incident=incident)
    )


def alert_payload(*, channel: AlertChannel, incident: Incident) -> dict[str, Any]:
    """The body for the channel's wire format; a PagerDuty routing key is added at send time, never stored here."""
    explanation = incident.explanation or {}
    # Titles and explanations quote templates mined from logs (and a model's words about them): escaped per channel.
    raw_summary = incident.title or f"{incident.severity} incident in {incident.service.name}"
    summary = plain_text(raw_summary, 3000)
    url = plain_text(explanation.get("logs_url", ""), 2000)
    details = {
        "service": incident.service.name,
        "team": incident.team.name,
        "severity": incident.severity,
        "window_start": incident.window_start.isoformat(),
        "window_end": incident.window_end.isoformat(),
        "what_changed": plain_list(explanation.get("what_changed", [])),
        "likely_causes": plain_list(explanation.get("likely_causes", [])),
        "debugging_steps": plain_list(explanation.get("debugging_steps", [])),
        "logs_url": url,
    }
    if channel.kind == AlertChannel.Kind.PAGERDUTY:
        return {
            "event_action": "trigger",
            "dedup_key": incident.dedup_key,
            "payload": {
                "summary": summary[:1024],
                "source": f"lipservice/{incident.team.name}/{incident.service.name}",
                "severity": PAGERDUTY_SEVERITY[incident.severity],
                "timestamp": incident.window_start.isoformat(),
                "component": incident.service.name,
                "class": "log-anomaly",
                "custom_details": details,
            },
            "links": [{"href": url, "text": "PostHog logs for the window"}] if url else [],
        }
    if channel.kind == AlertChannel.Kind.SLACK:
        causes = "\n".join(f"• {slack_text(c, 500)}" for c in explanation.get("likely_causes", [])[:5])
        steps = "\n".join(
            f"{i}. {slack_text(s, 500)}" for i, s in enumerate(explanation.get("debugging_steps", [])[:5], 1)
        )
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": f"[{incident.severity.upper()}] log anomaly"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_text(raw_summary)}},
        ]
        if causes:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Likely causes*\n{causes}"[:2900]}})
        if steps:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Next steps*\n{steps}"[:2900]}})
        if url:
            link = slack_link(url, "Open the logs in PostHog")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
        dedup = slack_text(incident.dedup_key, 200)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"dedup `{dedup}`"}]})
        return {"text": slack_text(raw_summary, 3000), "blocks": blocks}
    return {
        "event": "incident.triggered",
        "dedup_key": incident.dedup_key,
        "summary": summary,
        "incident": incident.pk,
        **details,
    }


def alert_deliver(
    *, delivery_id: int, final_attempt: bool, post: Callable[..., httpx.Response] | None = None
) -> AlertDelivery:
    """One attempt through lipservice.delivery (raises DeliveryRetry when a retry may help); webhooks are signed."""
    delivery = AlertDelivery.objects.select_related("channel", "incident").get(pk=delivery_id)
    if delivery.status != AlertDelivery.Status.PENDING:
        return delivery
    channel = delivery.channel
    payload = dict(delivery.payload)
    headers = {"Content-Type": "application/json", "User-Agent": "LipService-Alerts/1"}
    if channel.kind == AlertChannel.Kind.PAGERDUTY:
        payload = {"routing_key": channel.secret, **payload}
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    if channel.kind == AlertChannel.Kind.WEBHOOK:
        headers.update(
            signed_headers(
                secret=channel.secret, body=body, event="incident.triggered", delivery_id=f"alert-{delivery.pk}"
            )
        )
    deliver(delivery, url=channel.target_url, body=body, headers=headers, final_attempt=final_attempt, post=post)
    return delivery
