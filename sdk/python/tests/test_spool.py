"""Errors PostHog did not take: a spool directory carries them to the next process, exactly once and in order;
the spool's retries wait as long as PostHog's Retry-After asks; losses are counted."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lipservice_fakes import ListHandler, OtlpServer, dead_url, running, wait_until
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.spool import MAX_RETRY_AFTER, SUFFIX, parse_retry_after

TOKEN = "phc_test"  # noqa: S105
POLICY = {
    "service": "checkout",
    "severity_rates": {"INFO": 1.0},
    "keep": {"first_per_pattern": False, "first_per_signature": False},
    "anomaly_boost": {"enabled": False},
}

# One application process: logs `errors` ERROR lines (and INFO lines between them) to `host`, waits until its
# spool directory is empty or `wait` seconds pass, shuts down and prints its stats.
APP = textwrap.dedent(
    """
    import json, logging, sys, time
    from pathlib import Path
    from lipservice_sdk import configure_adaptive_logging

    host, spool, policy = sys.argv[1], Path(sys.argv[2]), sys.argv[5]
    errors, wait = int(sys.argv[3]), float(sys.argv[4])
    logger = logging.getLogger("app")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handle = configure_adaptive_logging(
        "checkout", posthog_token="phc_test", posthog_host=host, policy=json.loads(policy), logger=logger,
        export_delay=0.05, export_timeout=1.0, spool_dir=spool,
    )
    for step in range(errors):
        logger.info("cart viewed %d", step)
        logger.error("payment %d declined", step)
    deadline = time.monotonic() + wait
    time.sleep(0.5)
    while time.monotonic() < deadline and any(spool.glob("*.spool")):
        time.sleep(0.05)
    handle.shutdown(15.0)
    print(json.dumps(handle.stats()))
    """
)


def run_app(host: str, spool: Path, errors: int, wait: float) -> dict[str, int]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", APP, host, str(spool), str(errors), str(wait), json.dumps(POLICY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    stats: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return stats


@pytest.fixture
def otlp() -> Iterator[OtlpServer]:
    with running(OtlpServer(TOKEN)) as server:
        yield server


def test_errors_spooled_by_a_process_that_could_not_send_arrive_once_from_the_next(
    otlp: OtlpServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    first = run_app(dead_url(), spool, errors=30, wait=0.0)
    assert first["errors_spooled"] == 30 and first["errors_lost"] == 0 and first["export_failed"] == 30
    assert len(list(spool.glob(f"*{SUFFIX}"))) >= 1
    (spool / f"{0:020d}-corrupt{SUFFIX}").write_bytes(b"LSSPOOL1 not a batch")

    second = run_app(otlp.url, spool, errors=0, wait=30.0)
    expected = [f"payment {step} declined" for step in range(30)]
    assert otlp.bodies() == expected  # in order, each once
    assert second["errors_resent"] == 30 and second["spool_corrupt"] == 1 and second["errors_lost"] == 0
    assert not list(spool.glob(f"*{SUFFIX}"))

    third = run_app(otlp.url, spool, errors=0, wait=0.0)
    assert third["errors_resent"] == 0 and otlp.bodies() == expected


def test_a_full_spool_directory_counts_the_errors_it_cannot_hold(
    tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging(
        "checkout", posthog_token=TOKEN, posthog_host=dead_url(), policy=POLICY, logger=logger, export_delay=0.05,
        export_timeout=0.5, spool_dir=tmp_path, spool_max_bytes=64,
    )  # fmt: skip
    for step in range(3):
        logger.error("payment %d declined", step)
    assert wait_until(lambda: handle.stats()["errors_lost"] == 3, timeout=20)
    assert handle.stats()["errors_spooled"] == 0 and not list(tmp_path.glob(f"*{SUFFIX}"))


@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "disk"])
def test_spool_retries_wait_as_long_as_retry_after_asks(
    otlp: OtlpServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler], on_disk: bool
) -> None:
    logger, _ = app_logger
    retry_after = 4.0
    with otlp.lock:
        otlp.retry_after = str(int(retry_after))
        otlp.unavailable_until = time.monotonic() + 3600
    handle = configure_adaptive_logging(
        "checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=POLICY, logger=logger, export_delay=0.05,
        export_timeout=0.5, spool_dir=tmp_path if on_disk else None,
    )  # fmt: skip
    logger.error("payment 1 declined")
    assert wait_until(lambda: handle.stats()["errors_spooled"] == 1, timeout=20)
    with otlp.lock:
        before_spool = len(otlp.post_times)
    # Only the spool sends from here on: two refused attempts, then PostHog answers again.
    assert wait_until(lambda: len(otlp.post_times) >= before_spool + 2, timeout=60)
    with otlp.lock:
        otlp.unavailable_until = 0.0
    assert wait_until(lambda: otlp.bodies() == ["payment 1 declined"], timeout=60)
    with otlp.lock:
        spool_times = otlp.post_times[before_spool:]
    gaps = [later - earlier for earlier, later in itertools.pairwise(spool_times)]
    assert len(gaps) >= 2 and all(gap >= retry_after for gap in gaps), gaps
    assert Counter(otlp.bodies())["payment 1 declined"] == 1
    # The receiver stores the body before it answers; the SDK counts the resend once it has read that answer.
    assert wait_until(lambda: handle.stats()["errors_resent"] == 1, timeout=20)


def test_retry_after_is_read_as_seconds_or_a_date_and_bounded() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("99999999999") == MAX_RETRY_AFTER
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("-3") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    assert 100 <= (parse_retry_after(later) or 0) <= 121
    assert parse_retry_after("Mon, 01 Jan 1990 00:00:00 GMT") == 0.0
