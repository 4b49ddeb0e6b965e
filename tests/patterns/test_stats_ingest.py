"""SDK stats ingest: counted once per batch id, into hourly windows, size-limited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import Sum
from lipservice_sdk.stats import LOSS_COUNTERS
from model_bakery import baker
from rest_framework.test import APIClient

from lipservice.models import Team
from patterns.models import DELIVERY_LOSS_FIELDS, Pattern, PatternWindow, Service, StatsBatch
from patterns.serializers import DeliveryLossesSerializer
from tests.conftest import require_postgresql

pytestmark = pytest.mark.django_db

# Two days ago: well inside the retention window, whatever day the suite runs.
DAY = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()


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
        entry("p_health", f"{DAY}T05:01:00Z", 100, 2, 3000, 60),
        entry("p_health", f"{DAY}T05:02:00Z", 50, 1, 1500, 30),
        entry("p_health", f"{DAY}T06:00:00Z", 10, 1, 300, 30),
    ]
    response = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicate": False}
    windows = list(PatternWindow.objects.order_by("bucket_start").values_list("sdk_seen", "sdk_kept", "sdk_bytes_seen"))
    assert windows == [(150, 3, 4500), (10, 1, 300)]


def test_a_retried_batch_is_counted_once(client: APIClient, service: Service) -> None:
    body = batch([entry("p_health", f"{DAY}T05:01:00Z", 100, 2)], batch_id="b-1")
    assert client.post("/api/v1/patterns/stats", body, format="json").json()["duplicate"] is False
    again = client.post("/api/v1/patterns/stats", body, format="json")
    assert again.status_code == 202 and again.json() == {"accepted": 0, "duplicate": True}
    assert PatternWindow.objects.get().sdk_seen == 100


def test_unknown_pattern_ids_get_a_placeholder_pattern(client: APIClient, service: Service) -> None:
    client.post(
        "/api/v1/patterns/stats", batch([entry("sig:0123456789abcdef", f"{DAY}T05:00:00Z", 5, 5)]), format="json"
    )
    assert Pattern.objects.get(pattern_id="sig:0123456789abcdef").windows.get().sdk_seen == 5


def test_too_many_entries_is_413(client: APIClient, service: Service) -> None:
    entries = [entry("p_health", f"{DAY}T05:00:00Z", 1, 1)] * 20_001
    response = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not PatternWindow.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        entry("p_health", f"{DAY}T05:00:00Z", 1, 2),
        entry("p_health", "not a time", 1, 1),
        entry("p_health", f"{DAY}T05:00:00Z", -1, 0),
        {"pattern": "p_health"},
        entry("p_health", f"{DAY}T05:00:00Z", 2**63, 1),
        entry("p_health", f"{DAY}T05:00:00Z", 10**12 + 1, 0),
        entry("p_health", f"{DAY}T05:00:00Z", 5, 5, 100, 101),
        entry("p_health", f"{DAY}T05:00:00Z", 5, 5, 2**70, 0),
        entry("p_health", "2001-01-01T00:00:00Z", 1, 1),
        entry("p_health", "2999-01-01T00:00:00Z", 1, 1),
        entry("p\x00health", f"{DAY}T05:00:00Z", 1, 1),
        entry("p" * 33, f"{DAY}T05:00:00Z", 1, 1),
    ],
)
def test_invalid_entries_are_400_and_nothing_is_counted(client: APIClient, service: Service, bad: Any) -> None:
    good = entry("p_health", f"{DAY}T05:00:00Z", 1, 1)
    response = client.post("/api/v1/patterns/stats", batch([good, bad]), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]
    assert not PatternWindow.objects.exists()


def test_stats_for_another_teams_service_are_404(client: APIClient, other_team: Team) -> None:
    baker.make(Service, team=other_team, name="billing")
    body = batch([entry("p", f"{DAY}T05:00:00Z", 1, 1)], service="billing")
    assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 404


def test_a_batch_of_ten_thousand_patterns_is_accepted(client: APIClient, service: Service) -> None:
    entries = [entry(f"sig:{i:016x}", f"{DAY}T05:00:00Z", 3, 1, 90, 30) for i in range(10_000)]
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
    minute = datetime.fromisoformat(f"{DAY}T05:00:00+00:00")
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


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (entry("p_health", f"{DAY}T05:00:00Z", 2**63, 1), "seen"),
        (entry("p_health", f"{DAY}T05:00:00Z", 5, 5, 100, 101), "bytes_kept"),
        (entry("p_health", f"{DAY}T05:00:00Z", 5, 6), "kept"),
        (entry("p_health", "2001-01-01T00:00:00Z", 1, 1), "minute"),
        (entry("p_health", "2999-01-01T00:00:00Z", 1, 1), "minute"),
    ],
)
def test_an_out_of_bounds_figure_is_a_400_naming_the_field(
    client: APIClient, service: Service, bad: dict[str, Any], field: str
) -> None:
    good = entry("p_health", f"{DAY}T05:00:00Z", 1, 1)
    response = client.post("/api/v1/patterns/stats", batch([good, bad]), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith(f"Invalid input. stats[1].{field}: ")
    assert field in str(error["details"]["stats"])


def test_a_minute_a_little_ahead_of_the_server_clock_is_accepted(client: APIClient, service: Service) -> None:
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    response = client.post("/api/v1/patterns/stats", batch([entry("p_health", ahead, 1, 1)]), format="json")
    assert response.status_code == 202


def test_sums_past_the_column_range_saturate_instead_of_failing(client: APIClient, service: Service) -> None:
    from patterns.services import BIGINT_MAX

    top = 10**12
    entries = [entry("p_health", f"{DAY}T05:00:00Z", top, top, top, top)] * 3_000
    assert client.post("/api/v1/patterns/stats", batch(entries), format="json").status_code == 202
    # Years of a forged maximum: the window is a few counts short of the column's limit.
    PatternWindow.objects.filter(service=service).update(
        sdk_seen=BIGINT_MAX - 5, sdk_kept=BIGINT_MAX - 5, sdk_bytes_seen=BIGINT_MAX - 5, sdk_bytes_kept=3
    )
    response = client.post("/api/v1/patterns/stats", batch(entries), format="json")
    assert response.status_code == 202 and response.json()["accepted"] == 3_000
    window = PatternWindow.objects.get(service=service)
    assert window.sdk_seen == window.sdk_kept == window.sdk_bytes_seen == BIGINT_MAX
    assert window.sdk_bytes_kept == 3 + 3_000 * top


def test_new_placeholder_patterns_are_capped_per_hour_and_the_rest_folds_into_one(
    client: APIClient, service: Service, settings: Any
) -> None:
    from lipservice_sdk.stats import OVERFLOW_PATTERN

    settings.LIPSERVICE_STATS_NEW_PATTERNS_PER_HOUR = 5
    first = [entry(f"sig:{i:016x}", f"{DAY}T05:00:00Z", 2, 1) for i in range(3)]
    second = [entry(f"sig:{i:016x}", f"{DAY}T05:00:00Z", 2, 1) for i in range(3, 10)]
    for body in (batch(first), batch(second)):
        assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 202

    placeholders = Pattern.objects.filter(service=service, pattern_id__startswith="sig:")
    assert sorted(placeholders.values_list("pattern_id", flat=True)) == [f"sig:{i:016x}" for i in range(5)]
    overflow = Pattern.objects.get(service=service, pattern_id=OVERFLOW_PATTERN)
    assert overflow.windows.get().sdk_seen == 2 * 5
    assert PatternWindow.objects.filter(service=service).aggregate(s=Sum("sdk_seen"))["s"] == 2 * 10
    # A pattern admitted earlier keeps counting under its own id.
    again = batch([entry("sig:0000000000000001", f"{DAY}T05:00:00Z", 4, 1)])
    assert client.post("/api/v1/patterns/stats", again, format="json").status_code == 202
    assert Pattern.objects.get(service=service, pattern_id="sig:0000000000000001").windows.get().sdk_seen == 6


LOSSES = {"errors_lost": 3, "shed_errors": 1, "export_failed": 40, "shed": 200, "spool_corrupt": 2}


def _stored_losses(service: Service) -> dict[str, int]:
    sums = StatsBatch.objects.filter(service=service).aggregate(**{name: Sum(name) for name in DELIVERY_LOSS_FIELDS})
    return {name: sums[name] or 0 for name in DELIVERY_LOSS_FIELDS}


def test_the_wire_the_model_and_the_sdk_name_the_same_losses() -> None:
    assert tuple(DeliveryLossesSerializer().fields) == DELIVERY_LOSS_FIELDS == LOSS_COUNTERS


def test_delivery_losses_are_stored_with_their_batch(client: APIClient, service: Service) -> None:
    body = {**batch([entry("p_health", f"{DAY}T05:01:00Z", 10, 2)]), "losses": LOSSES}
    response = client.post("/api/v1/patterns/stats", body, format="json")
    assert response.status_code == 202, response.json()
    assert _stored_losses(service) == LOSSES


def test_a_batch_of_losses_alone_is_accepted(client: APIClient, service: Service) -> None:
    response = client.post("/api/v1/patterns/stats", {**batch([]), "losses": {"errors_lost": 7}}, format="json")
    assert response.status_code == 202 and response.json() == {"accepted": 0, "duplicate": False}
    assert _stored_losses(service) == {**dict.fromkeys(DELIVERY_LOSS_FIELDS, 0), "errors_lost": 7}


@pytest.mark.parametrize("body", [batch([]), {**batch([]), "losses": {}}], ids=["no losses", "empty losses"])
def test_a_batch_without_losses_counts_none(client: APIClient, service: Service, body: dict[str, Any]) -> None:
    body = {**body, "stats": [entry("p_health", f"{DAY}T05:01:00Z", 10, 2)]}
    assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 202
    assert StatsBatch.objects.filter(service=service).count() == 1
    assert _stored_losses(service) == dict.fromkeys(DELIVERY_LOSS_FIELDS, 0)
    assert PatternWindow.objects.get().sdk_seen == 10


def test_a_resent_batch_counts_its_losses_once(client: APIClient, service: Service) -> None:
    body = {**batch([entry("p_health", f"{DAY}T05:01:00Z", 10, 2)], batch_id="b-losses"), "losses": LOSSES}
    for _ in range(3):
        assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 202
    other = {**batch([], batch_id="b-other"), "losses": {"shed": 5}}
    assert client.post("/api/v1/patterns/stats", other, format="json").status_code == 202
    assert _stored_losses(service) == {**LOSSES, "shed": LOSSES["shed"] + 5}


@pytest.mark.parametrize("field", DELIVERY_LOSS_FIELDS)
@pytest.mark.parametrize("value", [10**13, 10**12 + 1, -1, 2**63, 1.5, "many", True, None, [1]])
def test_an_out_of_bounds_loss_is_a_400_naming_the_field(
    client: APIClient, service: Service, field: str, value: Any
) -> None:
    body = {**batch([entry("p_health", f"{DAY}T05:01:00Z", 1, 1)]), "losses": {**LOSSES, field: value}}
    response = client.post("/api/v1/patterns/stats", body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["message"].startswith(f"Invalid input. losses.{field}: ")
    assert field in error["details"]["losses"]
    assert not StatsBatch.objects.exists() and not PatternWindow.objects.exists()


def test_the_largest_loss_figure_is_accepted(client: APIClient, service: Service) -> None:
    body = {**batch([]), "losses": dict.fromkeys(DELIVERY_LOSS_FIELDS, 10**12)}
    assert client.post("/api/v1/patterns/stats", body, format="json").status_code == 202
    assert _stored_losses(service) == dict.fromkeys(DELIVERY_LOSS_FIELDS, 10**12)


@pytest.mark.parametrize("losses", [None, [], "3", 3, {"errors_lost": {"n": 1}}])
def test_losses_that_are_not_an_object_of_figures_are_a_400(client: APIClient, service: Service, losses: Any) -> None:
    response = client.post("/api/v1/patterns/stats", {**batch([]), "losses": losses}, format="json")
    assert response.status_code == 400, response.json()
    assert "losses" in response.json()["error"]["message"]
    assert not StatsBatch.objects.exists()
