"""The SDK against a live LipService server and a local OTLP receiver: policy fetched, stats counted once,
errors delivered, and the savings the SDK measured agree with what the simulator predicted."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.stats import LOSS_COUNTERS

from insights.selectors import service_proof
from lipservice.models import Team
from lipservice.services import api_key_create
from patterns.analysis import analysis_execute_records, analysis_run_create
from patterns.demo import generate
from patterns.models import Pattern, PatternWindow, Service, StatsBatch
from patterns.sources import SourceRecord
from policies.engine.pricing import flat_pricing
from policies.engine.simulator import ReplayLine, simulate
from policies.models import PolicyVersion
from policies.services import policy_propose, policy_publish

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python" / "tests"))
from lipservice_fakes import OtlpServer, running, wait_until

END = datetime(2026, 11, 1, tzinfo=UTC)
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "ERROR": logging.ERROR}


@pytest.fixture
def lines() -> list[Any]:
    return list(generate(service="checkout-api", end=END, days=2, scale=0.05, seed=11))


@pytest.fixture
def published(transactional_db: None, lines: list[Any]) -> tuple[Service, str, PolicyVersion]:
    team = Team.objects.create(name="shop")
    service = Service.objects.create(team=team, name="checkout-api", auto_publish=True, target_reduction=0.7)
    records = [
        SourceRecord(
            uuid=str(i),
            timestamp=line.timestamp,
            body=line.body,
            severity=line.severity,
            service="checkout-api",
            trace_id=line.trace_id or None,
            bytes=len(line.body.encode()),
        )
        for i, line in enumerate(lines)
    ]
    run = analysis_run_create(service=service, start=None, end=None, method="records")
    assert analysis_execute_records(run_id=run.pk, records=records).status == "succeeded"
    version = policy_propose(service=service)
    assert version is not None
    if version.status != "active":  # the replay needs a source; this service has none, so publish the proposal
        from policies.services import policy_approve

        version = policy_approve(service=service, number=version.number, actor="test")
    _, key = api_key_create(team=team, name="sdk")
    return service, key, version


def test_sdk_fetches_the_policy_reports_counts_and_matches_the_simulation(
    live_server: Any, published: tuple[Service, str, PolicyVersion], lines: list[Any], tmp_path: Path
) -> None:
    service, key, version = published
    logger = logging.getLogger("shop.checkout")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    with running(OtlpServer(token="phc_shop")) as otlp:
        handle = configure_adaptive_logging(
            "checkout-api",
            lipservice_url=live_server.url,
            api_key=key,
            posthog_token="phc_shop",
            posthog_host=otlp.url,
            logger=logger,
            cache_dir=tmp_path,
            stats_interval=0.5,
            seed=1,
            # Two days of lines arrive here in well under a second: a queue that holds them all, so that what
            # PostHog receives is what the policy kept (shedding under pressure has tests of its own).
            max_queue_size=len(lines),
        )
        try:
            assert wait_until(lambda: handle.policy is not None and handle.policy.version == version.number, 15)
            for line in lines:
                record = logger.makeRecord(
                    logger.name,
                    LEVELS[line.severity],
                    __file__,
                    1,
                    line.body,
                    (),
                    None,
                    extra={"trace_id": line.trace_id} if line.trace_id else None,
                )
                record.created = line.timestamp.timestamp()
                logger.handle(record)
            assert handle.flush(timeout=30)
            assert handle.stats()["shed"] == 0
        finally:
            handle.shutdown(timeout=10)
        kept_at_posthog = otlp.logs

    windows = PatternWindow.objects.filter(service=service).aggregate(
        seen=Sum("sdk_seen"), kept=Sum("sdk_kept"), bytes_seen=Sum("sdk_bytes_seen"), bytes_kept=Sum("sdk_bytes_kept")
    )
    assert windows["seen"] == len(lines)
    assert windows["kept"] == len(kept_at_posthog)
    errors = [line.body for line in lines if line.severity == "ERROR"]
    assert errors and set(errors) <= {log.body for log in kept_at_posthog}
    assert all(
        log.attributes["lipservice.pattern"] and log.attributes["lipservice.sample_rate"] > 0 for log in kept_at_posthog
    )
    known = set(Pattern.objects.filter(service=service).values_list("pattern_id", flat=True))
    assert {log.attributes["lipservice.pattern"] for log in kept_at_posthog} <= known

    policy = version.document
    from lipservice_sdk.policy import policy_from_dict

    report = simulate(
        policy=policy_from_dict(policy),
        records=[
            ReplayLine(
                message=line.body,
                severity=line.severity,
                timestamp=line.timestamp.timestamp(),
                bytes=len(line.body.encode()),
                trace_id=line.trace_id or None,
            )
            for line in lines
        ],
        pricing=flat_pricing(0.5),
    )
    measured = 1 - windows["bytes_kept"] / windows["bytes_seen"]
    predicted = report.reduction_bytes
    print(f"\nsimulated byte reduction {predicted:.4f}, measured by the SDK {measured:.4f}")
    assert measured > 0.3
    assert abs(measured - predicted) <= 0.05 * predicted


class RefusingOtlpServer(OtlpServer):
    """PostHog's endpoint refusing every export for good (400); with `hang`, each answer waits for `release`."""

    def __init__(self, token: str) -> None:
        super().__init__(token=token)
        self.refused = 0

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.refused += 1
        return 400, {}, b""


def test_what_the_sdk_could_not_deliver_is_counted_once_at_the_server_and_shown_in_the_proof(
    live_server: Any, transactional_db: None, tmp_path: Path
) -> None:
    team = Team.objects.create(name="lossy")
    service = Service.objects.create(team=team, name="checkout-loss")
    policy_publish(
        service=service,
        document={"service": "checkout-loss", "severity_rates": {"INFO": 1.0}, "anomaly_boost": {"enabled": False}},
        actor="test",
    )
    _, key = api_key_create(team=team, name="sdk")
    logger = logging.getLogger("lossy.checkout")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with running(RefusingOtlpServer(token="phc_lossy")) as otlp:
        otlp.hang = True
        handle = configure_adaptive_logging(
            "checkout-loss", lipservice_url=live_server.url, api_key=key, posthog_token="phc_lossy",
            posthog_host=otlp.url, logger=logger, cache_dir=tmp_path, stats_interval=0.3, max_queue_size=20,
            export_delay=0.05, export_timeout=5.0,
        )  # fmt: skip
        try:
            assert wait_until(lambda: handle.policy is not None and handle.policy.service == "checkout-loss", 15)
            # PostHog holds the first export: the queue fills, and what comes after the errors is shed.
            for i in range(5):
                logger.error("payment %d declined", i)
            for i in range(300):
                logger.info("cart %d viewed", i)
            otlp.release.set()
            # Refused for good: the errors leave the spool as lost, the other lines of the refused exports failed.
            assert wait_until(lambda: handle.stats()["errors_lost"] == 5, 30)
        finally:
            handle.shutdown(timeout=10)
        assert otlp.refused > 0 and otlp.logs == []

    stats = handle.stats()
    assert stats["stats_pending_batches"] == 0 and stats["stats_dropped_entries"] == 0
    assert (stats["errors_lost"], stats["shed_errors"], stats["spool_corrupt"]) == (5, 0, 0)
    assert stats["shed"] > 200 and stats["export_failed"] > 0
    assert stats["shed"] + stats["export_failed"] == 300
    batches = StatsBatch.objects.filter(service=service)
    stored = batches.aggregate(**{name: Sum(name) for name in LOSS_COUNTERS})
    assert stored == {name: stats[name] for name in LOSS_COUNTERS}
    assert batches.count() == stats["stats_batches_sent"]
    proof = service_proof(service=service)
    assert proof is not None
    assert proof["errors_lost"] == 5  # kept by the policy, and none of them reached PostHog
    assert (proof["lines_shed"], proof["lines_lost"]) == (stats["shed"], stats["export_failed"])
