"""SDK stats ingest: counted once per batch id, into hourly windows, size-limited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import Sum
from model_bakery import baker
from rest_framework.test import APIClient

from lipservice.models import Team
from patterns.models import Pattern, PatternWindow, Service
from tests.conftest import require_postgresql

pytestmark = pytest.mark.django_db


def batch(entries: list[dict[str, Any]], batch_id: str | None = None, service: str = "checkout") -> dict[str, Any]:
    return {
        "batch_id": batch_id or str(uuid.uuid4()),
        "service": service,
        "sdk": {"name": "lipservice-sdk", "version": "0.1.0"},
        "stats": entries,
    }


def entry(pattern: str, minute: str, seen: int, kept: int, bytes_seen: int = 0, bytes_kept: int = 0) -> dict[str, Any]:
    return {
        "pattern": pattern,
        "minute": minute,
        "seen": seen,
        "kept": kept,
        "bytes_seen": bytes_seen,
        "bytes_kept": bytes_kept,
    }


@pytest.fixture
def service(team: Team) -> Service:
    svc = baker.make(Service, team=team, name="checkout")
    baker.make(Pattern, service=svc, pattern_id="p_health", template="GET /healthz <*>")
    return svc


def test_stats_are_summed_into_hourly_windows(client: APIClient, service: Service) -> None:
    entries = [
        entry("p_health", "2026-11-23T05:01:00Z", 100, 2, 3000, 60),
        entry("p_health", "2026-11-23T05:02:00Z", 50, 1, 1500, 30),
        entry("p_health", "2026-11-23T06:00:00Z", 10, 1, 300, 30),
    ]
    response = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicate": False}
    windows = list(PatternWindow.objects.order_by("bucket_start").values_list("sdk_seen", "sdk_kept", "sdk_bytes_seen"))
    assert windows == [(150, 3, 4500), (10, 1, 300)]


def test_a_retried_batch_is_counted_once(client: APIClient, service: Service) -> None:
    body = batch([entry("p_health", "2026-11-23T05:01:00Z", 100, 2)], batch_id="b-1")
    assert client.post("/api/v1/patterns/stats", body, format="json").json()["duplicate"] is False
    again = client.post("/api/v1/patterns/stats", body, format="json")
    assert again.status_code == 202 and again.json() == {"accepted": 0, "duplicate": True}
    assert PatternWindow.objects.get().sdk_seen == 100


def test_unknown_pattern_ids_get_a_placeholder_pattern(client: APIClient, service: Service) -> None:
    client.post(
        "/api/v1/patterns/stats", batch([entry("sig:0123456789abcdef", "2026-11-23T05:00:00Z", 5, 5)]), format="json"
    )
    assert Pattern.objects.get(pattern_id="sig:0123456789abcdef").windows.get().sdk_seen == 5


def test_too_many_entries_is_413(client: APIClient, service: Service) -> None:
    entries = [entry("p_health", "2026-11-23T05:00:00Z", 1, 1)] * 20_001
    response = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not PatternWindow.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        entry("p_health", "2026-11-23T05:00:00Z", 1, 2),
        entry("p_health", "not a time", 1, 1),
        entry("p_health", "2026-11-23T05:00:00Z", -1, 0),
        {"pattern": "p_health"},
    ],
)
def test_invalid_entries_are_400_and_nothing_is_counted(client: APIClient, service: Service, bad: Any) -> None:
    good = entry("p_health", "2026-11-23T05:00:00Z", 1, 1)
    response = client.post("/api/v1/patterns/stats", batch([good, bad]), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]
    assert not PatternWindow.objects.exists()


def test_stats_for_another_teams_service_are_404(client: APIClient, other_team: Team) -> None:
    baker.make(Service, team=other_team, name="billing")
    body = batch([entry("p", "2026-11-23T05:00:00Z", 1, 1)], service="billing")
    assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 404


def test_a_batch_of_ten_thousand_patterns_is_accepted(client: APIClient, service: Service) -> None:
    entries = [entry(f"sig:{i:016x}", "2026-11-23T05:00:00Z", 3, 1, 90, 30) for i in range(10_000)]
    response = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["accepted"] == 10_000
    assert PatternWindow.objects.filter(service=service).count() == 10_000
    again = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert again.status_code == 202
    assert PatternWindow.objects.filter(service=service).aggregate(s=Sum("sdk_seen"))["s"] == 60_000


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_for_the_same_windows_are_all_counted(team: Team) -> None:
    import threading

    from django.db import connection

    from patterns.services import StatsEntry, pattern_stats_ingest

    require_postgresql()
    svc = baker.make(Service, team=team, name="racing")
    minute = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    errors: list[BaseException] = []

    def post(index: int) -> None:
        try:
            pattern_stats_ingest(
                service=svc,
                batch_id=f"b{index}",
                entries=[StatsEntry(f"p{k}", minute, 1, 1, 10, 10) for k in range(20)],
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert PatternWindow.objects.filter(service=svc).aggregate(s=Sum("sdk_seen"))["s"] == 80
