"""PostHog's OTLP endpoint answers 503 for a while (two minutes by default; LIPSERVICE_OUTAGE_SECONDS shortens it),
then 200: every ERROR logged during the outage arrives exactly once afterwards, and lost INFO lines are counted."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from lipservice_fakes import ListHandler, OtlpServer, running, wait_until
from lipservice_sdk import configure_adaptive_logging

TOKEN = "phc_test"  # noqa: S105
OUTAGE_SECONDS = float(os.environ.get("LIPSERVICE_OUTAGE_SECONDS", "120"))
POLICY = {
    "service": "checkout",
    "severity_rates": {"INFO": 1.0},
    "keep": {"first_per_pattern": False, "first_per_signature": False},
    "anomaly_boost": {"enabled": False},
}


@pytest.fixture
def otlp() -> Iterator[OtlpServer]:
    with running(OtlpServer(TOKEN)) as server:
        yield server


def test_errors_logged_during_an_outage_arrive_exactly_once_after_it(
    otlp: OtlpServer, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging(
        "checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=POLICY, logger=logger, export_delay=0.05,
        export_timeout=2.0,
    )  # fmt: skip
    with otlp.lock:
        otlp.unavailable_until = time.monotonic() + OUTAGE_SECONDS
    started = time.monotonic()
    errors = []
    step = 0
    while time.monotonic() - started < OUTAGE_SECONDS * 0.8:
        step += 1
        logger.info("cart viewed %d", step)
        if step % 10 == 0:
            errors.append(f"payment {step} declined")
            logger.error("payment %d declined", step)
        time.sleep(OUTAGE_SECONDS / 400)
    assert otlp.bodies() == [] and otlp.unavailable_answers > 0

    assert wait_until(lambda: set(errors) <= set(otlp.bodies()), timeout=OUTAGE_SECONDS + 90)
    handle.shutdown()
    received = Counter(otlp.bodies())
    assert all(received[body] == 1 for body in errors), [b for b in errors if received[b] != 1]
    stats = handle.stats()
    infos_lost = step - sum(1 for body in received if body.startswith("cart viewed"))
    assert stats["errors_lost"] == 0 and stats["errors_resent"] >= len(errors)
    assert infos_lost > 0 and stats["export_failed"] + stats["shed"] == infos_lost
