"""Anomaly scans over stored hourly windows with the patterns engine's detector, through to one alert."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from insights.models import AlertDelivery, Anomaly, Incident
from insights.services.alerts import alert_channel_create
from insights.tasks import scan_all_services
from patterns.models import PatternWindow, Service
from tests.insights.conftest import Receiver, make_pattern

NOW = datetime(2026, 11, 22, 12, 20, tzinfo=UTC)
START = datetime(2026, 11, 13, 12, tzinfo=UTC)


def _fill(service: Service, *, spike_hours: int, spiked: set[str]) -> None:
    rng = random.Random(5)
    templates = {
        "p_timeout": ("upstream payments-service timed out after <NUM>ms", {"WARN": 1}),
        "p_error": ("payments.errors.UpstreamTimeout: did not answer", {"ERROR": 1}),
        "p_access": ("POST /api/v1/checkout <NUM> <NUM>ms", {"INFO": 1}),
        "p_health": ("GET /healthz 200 <NUM>ms", {"INFO": 1}),
        "p_cache": ("cache hit key=session:<*>", {"DEBUG": 1}),
    }
    windows = []
    stop = NOW.replace(minute=0)
    for pid, (template, severities) in templates.items():
        pattern = make_pattern(service, pid, template, severity_counts=severities)
        t = START
        while t < stop:
            base = 200 + 120 * math.sin((t.hour - 9) / 24 * 2 * math.pi)
            count = max(0, round(rng.gauss(base, math.sqrt(base))))
            if pid in spiked and t >= stop - timedelta(hours=spike_hours):
                count *= 10
            errors = count if pid == "p_error" else 0
            windows.append(
                PatternWindow(
                    service=service, pattern=pattern, bucket_start=t, count=count, bytes=count * 120, errors=errors
                )
            )
            t += timedelta(hours=1)
    PatternWindow.objects.bulk_create(windows)


@pytest.mark.django_db(transaction=True)
def test_an_incident_moving_three_patterns_yields_one_alert(service: Service, receiver: Receiver) -> None:
    alert_channel_create(team=service.team, name="slack", kind="slack", url=receiver.base)
    _fill(service, spike_hours=2, spiked={"p_timeout", "p_error", "p_access"})
    from insights.services.anomalies import anomalies_scan

    incidents = anomalies_scan(service=service, now=NOW)
    assert len(incidents) == 1
    moved = set(Anomaly.objects.filter(incident=incidents[0]).values_list("pattern__pattern_id", flat=True))
    assert moved == {"p_timeout", "p_error", "p_access"}
    assert not Anomaly.objects.filter(pattern__pattern_id__in=["p_health", "p_cache"]).exists()
    assert incidents[0].severity == "critical"  # the error pattern jumped tenfold
    assert len(receiver.requests) == 1
    # The next scan sees the same incident again: nothing new is sent.
    anomalies_scan(service=service, now=NOW + timedelta(minutes=10))
    assert len(receiver.requests) == 1
    assert Incident.objects.count() == 1
    assert AlertDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_quiet_service_raises_nothing(service: Service, receiver: Receiver) -> None:
    alert_channel_create(team=service.team, name="slack", kind="slack", url=receiver.base)
    _fill(service, spike_hours=0, spiked=set())
    from insights.services.anomalies import anomalies_scan

    assert anomalies_scan(service=service, now=NOW) == []
    assert receiver.requests == [] and not Anomaly.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_scans_every_service(service: Service, other_team: object) -> None:
    from model_bakery import baker

    baker.make(Service, team=other_team, name="search")
    assert scan_all_services.delay().get() == 2


@pytest.mark.django_db
def test_hours_past_the_analysis_watermark_are_not_read_as_a_drop(team: object) -> None:
    from model_bakery import baker

    from insights.services.anomalies import anomalies_scan

    analysed = baker.make(
        Service, team=team, name="files", source_kind=Service.SourceKind.FILE, analysis_watermark=NOW.replace(minute=0)
    )
    _fill(analysed, spike_hours=0, spiked=set())
    assert anomalies_scan(service=analysed, now=NOW + timedelta(hours=5)) == []
    analysed.analysis_watermark = None
    analysed.save()
    drops = anomalies_scan(service=analysed, now=NOW + timedelta(hours=5))
    assert drops and set(Anomaly.objects.values_list("kind", flat=True)) == {"drop"}


@pytest.mark.django_db
def test_a_spike_only_an_app_key_reported_does_not_page_at_critical(service: Service) -> None:
    from insights.services.anomalies import anomalies_scan
    from patterns.services import StatsEntry, pattern_stats_ingest

    _fill(service, spike_hours=0, spiked=set())
    stop = NOW.replace(minute=0)
    forged = [
        StatsEntry("p_error", hour + timedelta(minutes=minute), 400, 400, 48_000, 48_000)
        for hour in (stop - timedelta(hours=2), stop - timedelta(hours=1))
        for minute in range(10)
    ]
    pattern_stats_ingest(service=service, batch_id="forged", entries=forged)

    incidents = anomalies_scan(service=service, now=NOW)

    spike = Anomaly.objects.get(pattern__pattern_id="p_error", kind="spike")
    assert spike.details == {"error_lines": spike.details["error_lines"], "sdk_reported": True}
    assert spike.details["error_lines"] > 0, "the analysed windows did hold error lines"
    assert [incident.severity for incident in incidents] == ["warning"]
