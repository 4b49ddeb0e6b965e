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

from lipservice.models import Team
from lipservice.services import api_key_create
from patterns.analysis import analysis_execute_records, analysis_run_create
from patterns.demo import generate
from patterns.models import Pattern, PatternWindow, Service
from patterns.sources import SourceRecord
from policies.engine.pricing import flat_pricing
from policies.engine.simulator import ReplayLine, simulate
from policies.models import PolicyVersion
from policies.services import policy_propose

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
