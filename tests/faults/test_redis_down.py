"""Redis (the cache, throttle store and Celery broker) killed while SDKs poll policies and post stats."""

from __future__ import annotations

import pytest
from lipservice_fakes import wait_until

from tests.faults.conftest import App
from tests.faults.traffic import SdkTraffic

pytestmark = pytest.mark.services

OUTAGE_POLLS = 10


def cache_hits(app: App) -> float:
    return app.server.metric("lipservice_policy_cache_total", outcome="hit")


def test_redis_down_policies_come_from_the_database_stats_count_once_and_the_cache_returns_without_restart(
    app: App, traffic: SdkTraffic
) -> None:
    server = app.server
    processes = server.processes()
    assert len(processes) == 2, "a master and one worker"
    assert wait_until(lambda: traffic.policy_versions == [app.policy_version], 20)
    assert wait_until(lambda: traffic.counter("stats_batches_sent") >= 3, 20)
    assert wait_until(lambda: cache_hits(app) >= 3, 20), "the policy cache is in use"
    policy = server.request("GET", "/api/v1/policies/checkout-api", key=app.key)
    etag = policy.headers["etag"]

    app.redis.kill()
    hits_before = cache_hits(app)
    errors_before = traffic.counter("policy_errors")
    sent_before = traffic.counter("stats_batches_sent")
    fetches_before = traffic.counter("policy_fetches")

    for _ in range(OUTAGE_POLLS):
        fresh = server.request("GET", "/api/v1/policies/checkout-api", key=app.key)
        assert fresh.status == 200 and fresh.headers["etag"] == etag and fresh.json() == policy.json()
        same = server.request("GET", "/api/v1/policies/checkout-api", key=app.key, headers={"If-None-Match": etag})
        assert same.status == 304
    ready = server.request("GET", "/api/v1/ready")
    assert ready.status == 503
    assert set(ready.json()["error"]["details"]["failed"]) == {"cache", "broker"}
    assert ready.json()["error"]["details"]["checks"]["database"]["ok"] is True
    assert wait_until(lambda: traffic.counter("stats_batches_sent") >= sent_before + 5, 20), "stats keep flowing"
    assert wait_until(lambda: traffic.counter("policy_fetches") >= fetches_before + 5, 10)
    assert traffic.counter("policy_errors") == errors_before, "every SDK poll was answered during the outage"
    assert cache_hits(app) == hits_before

    app.redis.start()
    assert wait_until(lambda: server.request("GET", "/api/v1/ready").status == 200, 30)
    hits_after_outage = cache_hits(app)
    assert wait_until(lambda: cache_hits(app) >= hits_after_outage + 3, 20), "cached reads resume"
    assert server.processes() == processes, "the same master and worker serve again"

    assert traffic.stop(timeout=30), "every batch was delivered"
    assert traffic.counter("stats_dropped_entries") == 0
    assert app.stats_totals() == traffic.totals()
    assert app.batches() == (traffic.counter("stats_batches_sent"), traffic.counter("stats_entries_sent"))


def test_broker_down_an_analysis_request_answers_503_and_fails_its_run_instead_of_leaving_it_pending(app: App) -> None:
    lines = {"service": "checkout-api", "lines": [{"message": "GET /api/items/7 step p00 ok", "severity": "INFO"}]}
    app.redis.kill()

    refused = app.server.request("POST", "/api/v1/patterns/analyze", key=app.management_key, body=lines)

    assert refused.status == 503 and refused.json()["error"]["code"] == "unavailable"
    run = refused.json()["error"]["details"]["run"]
    stored = app.server.request("GET", f"/api/v1/patterns/runs/{run}", key=app.management_key).json()
    assert stored["status"] == "failed" and stored["error"].startswith("not queued, the job queue is unreachable")

    app.redis.start()
    accepted = app.server.request("POST", "/api/v1/patterns/analyze", key=app.management_key, body=lines)

    assert accepted.status == 202 and accepted.json()["status"] == "pending"
    assert app.redis.client(1).llen("celery") == 1, "the task waits in the queue for a worker"
