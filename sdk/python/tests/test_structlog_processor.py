"""structlog: sampled-out events raise DropEvent, kept ones carry the sampling keys and reach PostHog."""

# ruff: noqa: S106 - fake tokens for local fake servers; the subprocess runs this interpreter

from __future__ import annotations

import logging
from typing import Any

import structlog
from lipservice_fakes import ListHandler, OtlpServer, running
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.decision import trace_unit
from lipservice_sdk.structlog_processor import LipServiceProcessor, lipservice_processor
from structlog.testing import CapturingLogger

RATE = 0.3
POLICY: dict[str, Any] = {
    "service": "checkout",
    "severity_rates": {"INFO": RATE, "DEBUG": 0.0},
    "keep": {"first_per_pattern": False, "first_per_signature": False},
    "anomaly_boost": {"enabled": False},
}


def _logger(processor: Any) -> tuple[Any, CapturingLogger]:
    capture = CapturingLogger()
    logger = structlog.wrap_logger(
        capture, processors=[structlog.processors.add_log_level, processor], wrapper_class=structlog.BoundLogger
    )
    return logger, capture


def _trace(i: int) -> str:
    return f"{i + 77:032x}"


def test_processor_drops_the_sampled_share_and_keeps_errors() -> None:
    handle = configure_adaptive_logging("checkout", policy=POLICY, install_logging=False)
    logger, capture = _logger(lipservice_processor)
    for i in range(500):
        logger.info("item added", item=i, trace_id=_trace(i))
    logger.debug("cache miss")
    logger.error("payment declined", order=7)
    logger.exception("checkout crashed")

    kept = [call.kwargs for call in capture.calls]
    expected = sum(1 for i in range(500) if (trace_unit(_trace(i)) or 1.0) < RATE)
    assert 0.2 * 500 < expected < 0.4 * 500
    assert [k["item"] for k in kept[:-2]] == [i for i in range(500) if (trace_unit(_trace(i)) or 1.0) < RATE]
    assert [k["event"] for k in kept[-2:]] == ["payment declined", "checkout crashed"]
    assert {k["lipservice.sample_rate"] for k in kept} == {RATE, 1.0}
    assert all(k["lipservice.pattern"].startswith("sig:") for k in kept)
    stats = handle.stats()
    assert (stats["seen"], stats["kept"]) == (503, expected + 2)


def test_without_a_configuration_the_processor_passes_events_through() -> None:
    logger, capture = _logger(lipservice_processor)
    logger.debug("cache miss")
    assert [call.kwargs["event"] for call in capture.calls] == ["cache miss"]


def test_a_closed_handle_passes_events_through() -> None:
    handle = configure_adaptive_logging("checkout", policy=POLICY, install_logging=False)
    logger, capture = _logger(LipServiceProcessor(handle))
    logger.debug("cache miss")
    handle.shutdown(1.0)
    logger.debug("cache miss")
    assert len(capture.calls) == 1


def test_kept_structlog_events_are_exported_with_their_keys() -> None:
    with running(OtlpServer("phc_test")) as otlp:
        handle = configure_adaptive_logging(
            "checkout", posthog_token="phc_test", posthog_host=otlp.url, policy=POLICY, install_logging=False
        )
        logger, _ = _logger(lipservice_processor)
        logger.warning("slow query", table="orders", took_ms=812.5, trace_id="e" * 32)
        logger.debug("cache miss")
        assert handle.flush(5.0)
        [log] = otlp.logs
        assert (log.body, log.severity_text, log.trace_id) == ("slow query", "WARN", "e" * 32)
        assert log.attributes["table"] == "orders" and log.attributes["took_ms"] == 812.5
        assert log.attributes["lipservice.sample_rate"] == 1.0


def test_events_tagged_by_the_processor_pass_the_stdlib_side_untouched() -> None:
    stdlib = logging.getLogger("structlog.bridge")
    stdlib.setLevel(logging.DEBUG)
    stdlib.propagate = False
    app = ListHandler()
    stdlib.addHandler(app)
    try:
        handle = configure_adaptive_logging("checkout", policy=POLICY, logger=stdlib)
        logger = structlog.wrap_logger(
            structlog.stdlib.LoggerFactory()("structlog.bridge"),
            processors=[
                structlog.processors.add_log_level,
                lipservice_processor,
                structlog.stdlib.render_to_log_kwargs,
            ],
            wrapper_class=structlog.stdlib.BoundLogger,
        )
        logger.warning("slow query", table="orders")
        logger.debug("cache miss")
        assert [r.getMessage() for r in app.records] == ["slow query"]
        assert handle.stats()["seen"] == 2  # counted once, by the processor
    finally:
        for existing in list(stdlib.handlers):
            stdlib.removeHandler(existing)
