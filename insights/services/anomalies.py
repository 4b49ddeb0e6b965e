"""Anomaly scans of a service's hourly counts, recorded and folded into incidents; stale incidents resolved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from insights.engine.alerting import (
    AnomalySignal,
    classify,
    group_signals,
    max_severity,
)
from insights.models import Anomaly, Incident
from insights.services.alerts import incident_notify_enqueue
from insights.services.explanations import explanation_redacted, incident_explain
from patterns.engine.anomaly import AnomalyConfig, detect_anomalies
from patterns.selectors import pattern_windows_in_range

if TYPE_CHECKING:
    from patterns.models import Pattern, Service


BUCKET_SECONDS = 3600
SCAN_HISTORY_HOURS = 9 * 24  # seven days of same-hour baseline plus the detector's 48 h of recent history
SCAN_LOOKBACK_HOURS = 3
GROUP_GAP = timedelta(hours=1)


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
    if service.analysis_watermark is not None and service.source_kind != service.SourceKind.SDK:
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
    windows = pattern_windows_in_range(service=service, start=start, stop=stop).filter(bucket_seconds=BUCKET_SECONDS)
    windows = windows.select_related("pattern")
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
        transaction.on_commit(lambda i=incident_id: incident_notify_enqueue(i), robust=True)  # type: ignore[misc]
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
