"""PostgreSQL stopped (every backend killed mid-transaction) while the SDK posts stats, then started again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from lipservice_fakes import wait_until

from tests.faults.conftest import PATTERNS, SERVICE, App
from tests.faults.traffic import SdkTraffic

pytestmark = pytest.mark.services


def _batch(batch_id: str) -> dict[str, object]:
    minute = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    entry = {"pattern": PATTERNS[0], "minute": minute, "seen": 7, "kept": 2, "bytes_seen": 700, "bytes_kept": 200}
    return {"batch_id": batch_id, "service": SERVICE, "sdk": {"name": "manual", "version": "1"}, "stats": [entry]}


def test_postgres_down_answers_503_the_sdk_retries_and_after_restart_every_batch_counts_once_without_restart(
    app: App, traffic: SdkTraffic
) -> None:
    server = app.server
    processes = server.processes()
    assert len(processes) == 2, "a master and one worker"
    assert wait_until(lambda: traffic.counter("stats_batches_sent") >= 3, 20)
    etag = server.request("GET", f"/api/v1/policies/{SERVICE}", key=app.key).headers["etag"]

    app.postgres.stop(mode="immediate")
    retries_before = traffic.counter("stats_retries")
    manual = _batch(str(uuid.uuid4()))

    refused = server.request("POST", "/api/v1/patterns/stats", key=app.key, body=manual, timeout=15)
    assert refused.status == 503, refused.body[:300]
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["error"]["code"] == "unavailable"
    ready = server.request("GET", "/api/v1/ready")
    assert ready.status == 503 and ready.json()["error"]["details"]["failed"] == ["database"]
    # The key and the policy were cached in Redis moments ago: polls need no database.
    polled = server.request("GET", f"/api/v1/policies/{SERVICE}", key=app.key, headers={"If-None-Match": etag})
    assert polled.status == 304
    assert wait_until(lambda: traffic.counter("stats_retries") >= retries_before + 3, 20), "the SDK retries"

    app.postgres.start()
    assert wait_until(lambda: server.request("GET", "/api/v1/ready").status == 200, 30)
    sent = traffic.counter("stats_batches_sent")
    assert wait_until(lambda: traffic.counter("stats_batches_sent") >= sent + 3, 30), "the SDK delivers again"
    assert server.processes() == processes, "the same master and worker serve again"

    first = server.request("POST", "/api/v1/patterns/stats", key=app.key, body=manual)
    again = server.request("POST", "/api/v1/patterns/stats", key=app.key, body=manual)
    assert (first.status, first.json()) == (202, {"accepted": 1, "duplicate": False})
    assert (again.status, again.json()) == (202, {"accepted": 0, "duplicate": True})

    assert traffic.stop(timeout=30), "every batch was delivered"
    assert traffic.counter("stats_dropped_entries") == 0
    seen, kept, bytes_seen, bytes_kept = traffic.totals()
    assert app.stats_totals() == (seen + 7, kept + 2, bytes_seen + 700, bytes_kept + 200)
    assert app.batches() == (traffic.counter("stats_batches_sent") + 1, traffic.counter("stats_entries_sent") + 1)
