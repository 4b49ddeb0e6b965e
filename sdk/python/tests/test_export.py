"""Export to a local OTLP/HTTP receiver: attributes, resource, auth, error context, pressure, slow peers, exit."""

# ruff: noqa: S105, S603 - fake tokens for local fake servers; the subprocess runs this interpreter

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lipservice_fakes import LipServiceServer, ListHandler, OtlpServer, running, wait_until
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.decision import trace_unit
from opentelemetry.sdk.trace import TracerProvider

TOKEN = "phc_test"
RATE = 0.5


def _policy(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "service": "checkout",
        "version": 9,
        "severity_rates": {"INFO": RATE},
        "keep": {"first_per_pattern": False, "first_per_signature": False},
        "anomaly_boost": {"enabled": False},
    }
    document.update(overrides)
    return document


@pytest.fixture
def otlp() -> Iterator[OtlpServer]:
    with running(OtlpServer(TOKEN)) as server:
        yield server


def _trace(i: int) -> str:
    return f"{0xABC0000 + i:032x}"


def test_kept_records_reach_posthog_with_sampling_attributes_and_service_name(
    otlp: OtlpServer, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    handle = configure_adaptive_logging(
        "checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=_policy(), logger=logger, export_delay=0.05
    )
    for i in range(200):
        logger.info("Item %d added to cart", i, extra={"trace_id": _trace(i), "cart.size": i})
    logger.error("Checkout failed for order %d", 7, extra={"trace_id": _trace(1000)})
    assert handle.flush(5.0)

    expected = sum(1 for i in range(200) if (trace_unit(_trace(i)) or 1.0) < RATE)
    logs = otlp.logs
    infos = [log for log in logs if log.severity_text == "INFO"]
    assert len(infos) == expected == len(app.records) - 1
    assert otlp.rejected == 0
    for log in logs:
        assert log.resource["service.name"] == "checkout"
        assert log.attributes["lipservice.sample_rate"] == (RATE if log.severity_text == "INFO" else 1.0)
        assert log.attributes["lipservice.pattern"].startswith("sig:")
    error = logs[-1]
    assert (error.body, error.severity_text, error.severity_number) == ("Checkout failed for order 7", "ERROR", 17)
    assert error.trace_id == _trace(1000)
    assert {log.attributes["cart.size"] for log in infos} == {
        i for i in range(200) if (trace_unit(_trace(i)) or 1.0) < RATE
    }
    stats = handle.stats()
    assert stats["exported"] == expected + 1
    assert (stats["shed"], stats["export_failed"]) == (0, 0)


def test_the_trace_id_comes_from_the_active_span_first(
    otlp: OtlpServer, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging(
        "checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=_policy(), logger=logger
    )
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        logger.error("Inside a span", extra={"trace_id": "ffff"})
        trace_id = format(span.get_span_context().trace_id, "032x")
    assert handle.flush(5.0)
    assert [log.trace_id for log in otlp.logs] == [trace_id]


def test_a_wrong_token_is_rejected_and_counted_as_failed(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, _ = app_logger
    with running(OtlpServer("phc_other")) as server:
        handle = configure_adaptive_logging(
            "checkout", posthog_token=TOKEN, posthog_host=server.url, logger=logger, export_delay=0.05
        )
        logger.error("Nobody will see this")
        logger.info("Nor this")
        handle.flush(5.0)
        assert server.rejected >= 1 and server.logs == []
        assert handle.stats()["export_failed"] == 1  # the INFO line; the error waits to be sent again
        assert handle.stats()["errors_spooled"] == 1
        handle.shutdown()
        assert handle.stats()["errors_lost"] == 1


def test_error_context_is_flushed_for_the_failing_trace_only(
    otlp: OtlpServer, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    policy = _policy(severity_rates={"INFO": 0.0}, error_context={"enabled": True, "lines_per_trace": 4, "seconds": 60})
    handle = configure_adaptive_logging("checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=policy,
                                        logger=logger)  # fmt: skip
    failing, healthy, noisy = "a" * 32, "b" * 32, "c" * 32
    for step in range(3):
        logger.info("Step %d of request", step, extra={"trace_id": failing})
        logger.info("Step %d of request", step, extra={"trace_id": healthy})
    for step in range(6):
        logger.info("Retry %d of request", step, extra={"trace_id": noisy})
    logger.info("Untraced step %d", 1)
    logger.error("Request failed", extra={"trace_id": failing})
    logger.error("Request failed", extra={"trace_id": noisy})
    assert handle.flush(5.0)

    sent = [(log.trace_id, log.body, log.attributes.get("lipservice.error_context")) for log in otlp.logs]
    assert sent == [
        (failing, "Step 0 of request", True),
        (failing, "Step 1 of request", True),
        (failing, "Step 2 of request", True),
        (failing, "Request failed", None),
        (noisy, "Retry 2 of request", True),
        (noisy, "Retry 3 of request", True),
        (noisy, "Retry 4 of request", True),
        (noisy, "Retry 5 of request", True),
        (noisy, "Request failed", None),
    ]
    assert [r.getMessage() for r in app.records] == ["Request failed", "Request failed"]  # held lines: exporter only
    assert not any("lipservice.dropped" in log.attributes for log in otlp.logs)  # the verdict marker stays local
    stats = handle.stats()
    assert (stats["context_held"], stats["context_flushed"], stats["context_evicted"]) == (12, 7, 2)
    assert stats["context_buffered"] == 3  # the healthy trace's lines, until they expire


def test_held_lines_expire(otlp: OtlpServer, app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, _ = app_logger
    policy = _policy(
        severity_rates={"INFO": 0.0}, error_context={"enabled": True, "lines_per_trace": 10, "seconds": 0.2}
    )
    handle = configure_adaptive_logging("checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=policy,
                                        logger=logger)  # fmt: skip
    logger.info("Step %d of request", 1, extra={"trace_id": "d" * 32})
    logger.info("Step %d of request", 2, extra={"trace_id": "d" * 32})
    time.sleep(0.3)
    logger.error("Request failed", extra={"trace_id": "d" * 32})
    assert handle.flush(5.0)
    assert otlp.bodies() == ["Request failed"]
    assert handle.stats()["context_expired"] == 2


def test_a_hanging_posthog_and_lipservice_never_block_logging_calls(
    tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    with running(OtlpServer(TOKEN)) as otlp, running(LipServiceServer()) as lipservice:
        otlp.hang = lipservice.hang = True
        started = time.monotonic()
        handle = configure_adaptive_logging(
            "checkout", posthog_token=TOKEN, posthog_host=otlp.url, lipservice_url=lipservice.url,
            api_key="lsk_test", cache_dir=tmp_path, logger=logger, export_delay=0.01, stats_interval=0.05,
            max_queue_size=256, export_batch_size=64, request_timeout=30, export_timeout=30,
        )  # fmt: skip
        for i in range(3000):
            logger.info("Item %d added to cart", i)
        elapsed = time.monotonic() - started
        # Any network wait on the calling thread would cost at least one 30 s timeout.
        assert elapsed < 10.0, f"3000 logging calls took {elapsed:.2f}s while both servers hang"
        assert len(app.records) == 3000  # no policy yet: keep everything
        assert wait_until(lambda: otlp.arrivals and lipservice.arrivals)
        assert handle.stats()["shed"] > 0

        started = time.monotonic()
        handle.shutdown(1.0)
        assert time.monotonic() - started < 2.5


def test_shedding_under_pressure_is_counted_and_spares_errors(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, _ = app_logger
    with running(OtlpServer(TOKEN)) as otlp:
        otlp.hang = True
        handle = configure_adaptive_logging(
            "checkout", posthog_token=TOKEN, posthog_host=otlp.url, logger=logger, export_delay=0.01,
            max_queue_size=20, export_batch_size=5,
        )  # fmt: skip
        logger.info("Item %d added to cart", 0)
        assert wait_until(lambda: otlp.arrivals)  # the export thread is now stuck on the first batch
        for i in range(1, 100):
            logger.info("Item %d added to cart", i)
        logger.error("Payment service down")
        stats = handle.stats()
        assert stats["shed"] >= 99 - 20
        assert stats["shed_errors"] == 0
        otlp.release.set()
        assert handle.flush(5.0)
        assert "Payment service down" in otlp.bodies()
        assert len(otlp.logs) + handle.stats()["shed"] == 101


def test_pending_lines_are_sent_at_interpreter_exit(otlp: OtlpServer, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import logging
        from lipservice_sdk import configure_adaptive_logging

        logging.getLogger().setLevel(logging.INFO)
        configure_adaptive_logging("exiting", posthog_token={TOKEN!r}, posthog_host={otlp.url!r}, export_delay=60)
        for i in range(3):
            logging.getLogger("app").warning("Shutting down worker %d", i)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    completed = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True, check=False)
    assert completed.returncode == 0, completed.stderr.decode()
    assert otlp.bodies() == [f"Shutting down worker {i}" for i in range(3)]
    assert {log.resource["service.name"] for log in otlp.logs} == {"exiting"}


def test_concurrent_logging_threads_add_up(otlp: OtlpServer, app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    handle = configure_adaptive_logging(
        "checkout", posthog_token=TOKEN, posthog_host=otlp.url, policy=_policy(), logger=logger, export_delay=0.05
    )

    def work(thread: int) -> None:
        for i in range(300):
            logger.info("Item %d added to cart", i, extra={"trace_id": _trace(thread * 1000 + i)})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert handle.flush(5.0)
    expected = sum(1 for n in range(8) for i in range(300) if (trace_unit(_trace(n * 1000 + i)) or 1.0) < RATE)
    stats = handle.stats()
    assert (stats["seen"], stats["kept"], stats["exported"]) == (2400, expected, expected)
    assert len(app.records) == len(otlp.logs) == expected
