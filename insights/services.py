"""Writes for insights: team pricing, anomaly scans, incidents and their explanations, alert channels and deliveries."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from insights.engine.alerting import (
    RANK,
    AnomalySignal,
    QuietHours,
    classify,
    group_signals,
    max_severity,
    severity_at_least,
)
from insights.engine.explain import (
    Explanation,
    IncidentFacts,
    MovedPattern,
    explain_rules,
    explanation_prompt,
    logs_url,
    merge_llm,
    parse_llm_explanation,
)
from insights.engine.pricing import Pricing, PricingError, parse_pricing
from insights.models import AlertChannel, AlertDelivery, Anomaly, Incident
from insights.selectors import InvalidPricing, alert_channels_for, alert_last_sent, pattern_dominant_severity
from lipservice.delivery import deliver, plain_list, plain_text, signed_headers, slack_link, slack_text
from lipservice.errors import DomainError
from lipservice.models import Team
from patterns.engine.anomaly import AnomalyConfig, detect_anomalies
from patterns.engine.redaction import redact
from patterns.models import Pattern, PatternWindow, Service
from policies.engine.llm.config import LLMConfig
from policies.engine.llm.providers import LLMError, LLMProvider, provider_from_config

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 3600
SCAN_HISTORY_HOURS = 9 * 24  # seven days of same-hour baseline plus the detector's 48 h of recent history
SCAN_LOOKBACK_HOURS = 3
GROUP_GAP = timedelta(hours=1)
PAGERDUTY_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


# --- pricing ---------------------------------------------------------------------------------------------------------


def team_pricing_set(*, team: Team, pricing: Mapping[str, Any] | None) -> Pricing:
    """Validate and store the team's price table; None removes it (back to the settings default)."""
    from policies.selectors import default_price_table

    config = dict(team.config or {})
    if pricing is None:
        config.pop("pricing", None)
        parsed = parse_pricing(default_price_table())
    else:
        try:
            parsed = parse_pricing(pricing, default=parse_pricing(default_price_table()))
        except PricingError as exc:
            raise InvalidPricing(f"Invalid pricing: {exc}", details={"errors": exc.issues}) from exc
        config["pricing"] = dict(pricing)
    team.config = config
    team.save(update_fields=["config"])
    return parsed


# --- anomalies and incidents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectedAnomaly:
    """An anomaly to record, from the detector or from elsewhere (an import, a test)."""

    pattern: Pattern | None
    kind: str
    window_start: datetime
    window_end: datetime
    observed: float
    expected: float
    score: float
    confidence: float
    error_lines: int = 0
    # The counts behind it were reported by SDKs (an app key), not read from the logs by an analysis.
    sdk_reported: bool = False


def anomalies_scan(
    *, service: Service, now: datetime | None = None, lookback_hours: int = SCAN_LOOKBACK_HOURS
) -> list[Incident]:
    """Run the patterns engine's detector over the service's hourly counts, record what it finds, and alert.

    Only complete hours are scanned (and, for analysed sources, only hours before the analysis watermark); the last
    `lookback_hours` of them are tested, the rest is baseline. Recording is idempotent (one anomaly per service,
    pattern, kind and start), so overlapping scans are harmless.
    """
    moment = now or timezone.now()
    if service.analysis_watermark is not None and service.source_kind != Service.SourceKind.SDK:
        # Hours the analysis has not read yet look like a drop to zero; stop where the analysed logs stop.
        moment = min(moment, service.analysis_watermark)
    epoch = int(moment.timestamp())
    stop = datetime.fromtimestamp(epoch - epoch % BUCKET_SECONDS, tz=UTC)
    start = stop - timedelta(hours=SCAN_HISTORY_HOURS)
    buckets = SCAN_HISTORY_HOURS
    counts: dict[str, list[int]] = {}
    errors: dict[str, list[int]] = {}
    patterns: dict[str, Pattern] = {}
    reported: set[tuple[str, int]] = set()
    windows = PatternWindow.objects.filter(
        service=service, bucket_start__gte=start, bucket_start__lt=stop, bucket_seconds=BUCKET_SECONDS
    ).select_related("pattern")
    for window in windows:
        key = window.pattern.pattern_id
        patterns[key] = window.pattern
        index = int((window.bucket_start - start).total_seconds()) // BUCKET_SECONDS
        counts.setdefault(key, [0] * buckets)[index] += window.sdk_seen or window.count
        errors.setdefault(key, [0] * buckets)[index] += window.errors
        if window.sdk_seen:
            reported.add((key, index))
    found = detect_anomalies(
        counts,
        errors,
        start=start.timestamp(),
        bucket_seconds=BUCKET_SECONDS,
        from_bucket=buckets - lookback_hours,
        config=AnomalyConfig(season=24),
    )
    detected = [
        DetectedAnomaly(
            pattern=patterns[a.pattern_id],
            kind=a.kind,
            window_start=datetime.fromtimestamp(a.window_start, tz=UTC),
            window_end=datetime.fromtimestamp(a.window_end, tz=UTC),
            observed=a.observed,
            expected=a.expected,
            score=a.score,
            confidence=a.confidence,
            error_lines=sum(errors[a.pattern_id][a.start_bucket : a.end_bucket + 1]),
            sdk_reported=any((a.pattern_id, i) in reported for i in range(a.start_bucket, a.end_bucket + 1)),
        )
        for a in found
    ]
    return anomalies_record(service=service, anomalies=detected)


@transaction.atomic
def anomalies_record(*, service: Service, anomalies: Sequence[DetectedAnomaly]) -> list[Incident]:
    """Store anomalies, fold related ones (same service, overlapping windows) into incidents, alert on commit.

    A group that overlaps an open incident of the service joins it: the incident's window grows, its severity can
    only rise, and its dedup key stays, so a repeat detection never opens a second incident.
    """
    rows: list[Anomaly] = []
    for item in anomalies:
        severity = classify(_signal(service, item, 0))
        lookup = {"service": service, "pattern": item.pattern, "kind": item.kind, "window_start": item.window_start}
        values = {
            "window_end": item.window_end,
            "observed": item.observed,
            "expected": item.expected,
            "score": item.score,
            "confidence": item.confidence,
            "severity": severity,
            "details": {"error_lines": item.error_lines, "sdk_reported": item.sdk_reported},
            "explanation": f"{item.kind}: {item.observed:,.2f} observed vs {item.expected:,.2f} expected",
        }
        row = Anomaly.objects.filter(**lookup).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Anomaly.objects.create(**lookup, **values)
            except IntegrityError:
                row = Anomaly.objects.get(**lookup)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.save(update_fields=[*values])
        rows.append(row)
    signals = [_signal(service, item, row.pk) for item, row in zip(anomalies, rows, strict=True)]
    touched: list[Incident] = []
    by_id = {row.pk: row for row in rows}
    for group in group_signals(signals, gap=GROUP_GAP):
        members = [by_id[s.id] for s in group.members]
        incident = _incident_for(service=service, start=group.start, end=group.end, severity=group.severity)
        Anomaly.objects.filter(pk__in=[m.pk for m in members]).update(incident=incident)
        _incident_refresh(incident)
        touched.append(incident)
    for incident in touched:
        incident_id = incident.pk
        transaction.on_commit(lambda i=incident_id: _enqueue_notify(i), robust=True)  # type: ignore[misc]
    return touched


def _signal(service: Service, item: DetectedAnomaly, row_id: int) -> AnomalySignal:
    # Error lines make a rate jump critical. When the jump itself is only what an app key reported, it may be
    # forged, so it rates as a rate change (warning at most) and does not page on its own.
    forged_risk = item.sdk_reported and item.kind in {"spike", "drop"}
    return AnomalySignal(
        id=row_id,
        service=service.name,
        pattern=item.pattern.pattern_id if item.pattern else None,
        kind=item.kind,
        start=item.window_start,
        end=item.window_end,
        score=item.score,
        observed=item.observed,
        expected=item.expected,
        error_lines=0 if forged_risk else item.error_lines,
    )


def _incident_for(*, service: Service, start: datetime, end: datetime, severity: str) -> Incident:
    existing = (
        Incident.objects.select_for_update()
        .filter(
            service=service,
            status=Incident.Status.OPEN,
            window_start__lte=end + GROUP_GAP,
            window_end__gte=start - GROUP_GAP,
        )
        .order_by("window_start")
        .first()
    )
    if existing is not None:
        existing.window_start = min(existing.window_start, start)
        existing.window_end = max(existing.window_end, end)
        existing.severity = max_severity([existing.severity, severity])
        existing.save(update_fields=["window_start", "window_end", "severity", "updated_at"])
        return existing
    key = f"lipservice:{service.team.name}:{service.name}:{start.astimezone(UTC):%Y%m%dT%H%M}"
    incident, created = Incident.objects.get_or_create(
        dedup_key=key,
        defaults={
            "team": service.team,
            "service": service,
            "severity": severity,
            "window_start": start,
            "window_end": end,
        },
    )
    if not created and incident.status != Incident.Status.OPEN:
        # Resolved, then the same start detected again (a rescan of old hours): it is the same incident.
        incident.status = Incident.Status.OPEN
        incident.window_end = max(incident.window_end, end)
        incident.save(update_fields=["status", "window_end", "updated_at"])
    return incident


_EXPLANATION_TEXTS = ("summary", "what_changed", "when", "moved_together", "likely_causes", "debugging_steps")


def explanation_redacted(explanation: dict[str, Any]) -> dict[str, Any]:
    """An explanation as stored: its texts (which quote templates, or a model's words) pass the one redaction."""
    result = dict(explanation)
    for key in _EXPLANATION_TEXTS:
        value = result.get(key)
        if isinstance(value, str):
            result[key] = redact(value)
        elif isinstance(value, list):
            result[key] = [redact(item) if isinstance(item, str) else item for item in value]
    return result


def _incident_refresh(incident: Incident) -> None:
    members = list(incident.anomalies.select_related("pattern").order_by("window_start", "id"))
    incident.severity = max_severity([incident.severity, *[m.severity for m in members]])
    # Rules only here: this runs inside the scan's transaction; the LLM is asked later, by incident_notify.
    explanation = incident_explain(incident=incident, members=members, use_llm=False).as_dict()
    previous = incident.explanation or {}
    if str(previous.get("generated_by", "")).startswith("llm:"):
        # Keep the model's words; the facts (what changed, when, the link) are always the rules' current ones.
        explanation.update({k: previous[k] for k in ("summary", "likely_causes", "debugging_steps", "generated_by")})
    incident.explanation = explanation = explanation_redacted(explanation)
    incident.title = str(explanation["summary"])[:500]
    incident.save(update_fields=["severity", "explanation", "title", "updated_at"])


def incident_resolve_stale(*, service: Service, now: datetime | None = None, quiet_hours: int = 6) -> int:
    """Close incidents with no anomaly for `quiet_hours`; a later anomaly then opens a new incident."""
    cutoff = (now or timezone.now()) - timedelta(hours=quiet_hours)
    return Incident.objects.filter(service=service, status=Incident.Status.OPEN, window_end__lt=cutoff).update(
        status=Incident.Status.RESOLVED
    )


# --- explanations ----------------------------------------------------------------------------------------------------


def _facts(incident: Incident, members: Sequence[Anomaly]) -> IncidentFacts:
    moved: dict[str, MovedPattern] = {}
    for anomaly in members:
        pattern = anomaly.pattern
        key = f"{pattern.pattern_id if pattern else '-'}:{anomaly.kind}"
        moved[key] = MovedPattern(
            pattern=pattern.pattern_id if pattern else "",
            template=pattern.template if pattern else f"(service-wide {anomaly.kind})",
            severity=_dominant_or_error(pattern),
            kind=anomaly.kind,
            observed=anomaly.observed,
            expected=anomaly.expected,
        )
    return IncidentFacts(
        service=incident.service.name,
        start=incident.window_start,
        end=incident.window_end,
        severity=incident.severity,
        patterns=tuple(moved.values()),
    )


def _dominant_or_error(pattern: Pattern | None) -> str:
    if pattern is None:
        return "INFO"
    return (
        "ERROR"
        if pattern.error_count and pattern.error_count * 2 >= pattern.count
        else pattern_dominant_severity(pattern)
    )


def incident_explain(
    *,
    incident: Incident,
    members: Sequence[Anomaly] | None = None,
    provider: LLMProvider | None = None,
    use_llm: bool = True,
) -> Explanation:
    """Rules by default; with an LLM configured (or a provider given), its answer over redacted facts, falling back
    to the rules on any failure with the reason recorded, as policy generation does."""
    rows = list(members) if members is not None else list(incident.anomalies.select_related("pattern"))
    facts = _facts(incident, rows)
    team = incident.team
    url = logs_url(
        host=team.posthog_host,
        project_id=team.posthog_project_id,
        service=incident.service.name,
        start=incident.window_start,
        end=incident.window_end,
    )
    rules = explain_rules(facts, url=url)
    config = LLMConfig.from_settings(settings)
    if not use_llm or (provider is None and config.provider == "rules"):
        return rules
    try:
        llm = provider or provider_from_config(config)
        system, user = explanation_prompt(facts, redact=redact)
        answer = parse_llm_explanation(llm.complete(system=system, user=user))
        return merge_llm(rules, answer, generated_by=f"llm:{llm.name}:{llm.model}")
    except LLMError as exc:
        reason = f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
    except ValueError as exc:
        reason = f"invalid_answer: {exc}"
    except Exception as exc:  # an explanation must never break a scan or an alert
        reason = f"unexpected: {type(exc).__name__}: {exc}"
    logger.warning("LLM explanation fell back to rules: %s", reason)
    return replace(rules, fallback_reason=reason[:500])


def incident_explain_with_llm(*, incident_id: int, provider: LLMProvider | None = None) -> bool:
    """Replace the rules explanation by the LLM's when one is configured (or given); False when nothing changed."""
    if provider is None and LLMConfig.from_settings(settings).provider == "rules":
        return False
    incident = Incident.objects.select_related("service", "team").get(pk=incident_id)
    explanation = explanation_redacted(incident_explain(incident=incident, provider=provider).as_dict())
    Incident.objects.filter(pk=incident_id).update(
        explanation=explanation, title=str(explanation["summary"])[:500], updated_at=timezone.now()
    )
    return True


# --- alert channels and deliveries -----------------------------------------------------------------------------------


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


def _enqueue_notify(incident_id: int) -> None:
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
