"""Lines that carry an exception are kept at any level under a policy that drops everything else, until a person
removes the always-keep rules; the same default in stdlib logging, structlog and OpenTelemetry attributes."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from lipservice_fakes import ListHandler
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.policy import EXCEPTION_KEEP, policy_from_dict
from lipservice_sdk.structlog_processor import lipservice_processor
from structlog.testing import CapturingLogger

ZERO: dict[str, Any] = {
    "service": "checkout",
    "severity_rates": {"TRACE": 0.0, "DEBUG": 0.0, "INFO": 0.0, "WARN": 0.0},
    "default_rate": 0.0,
    "keep": {"first_per_pattern": False, "first_per_signature": False},
    "anomaly_boost": {"enabled": False},
}


def test_generated_and_default_policies_carry_the_exception_rules() -> None:
    attributes = policy_from_dict({"service": "x"}).keep.attributes
    assert set(EXCEPTION_KEEP) <= set(attributes)


@pytest.mark.parametrize("removed", [False, True])
def test_stdlib_lines_with_exc_info_are_kept_until_the_rule_is_removed(
    app_logger: tuple[logging.Logger, ListHandler], removed: bool
) -> None:
    logger, app = app_logger
    policy = {**ZERO, "keep": {**ZERO["keep"], "attributes": []}} if removed else ZERO
    configure_adaptive_logging("checkout", policy=policy, logger=logger)
    try:
        raise KeyError("sku-1")
    except KeyError:
        logger.warning("retrying order %d", 7, exc_info=True)
    logger.info("plain line %d", 8)
    logger.info("exc_info asked for outside an except block %d", 9, exc_info=True)  # carries no exception
    logger.info("otel line", extra={"exception.message": "upstream reset"})
    kept = [r.getMessage() for r in app.records]
    assert kept == ([] if removed else ["retrying order 7", "otel line"])


def test_structlog_events_with_an_exception_are_kept() -> None:
    configure_adaptive_logging("checkout", policy=ZERO, install_logging=False)
    capture = CapturingLogger()
    logger = structlog.wrap_logger(
        capture,
        processors=[structlog.processors.add_log_level, lipservice_processor],
        wrapper_class=structlog.BoundLogger,
    )
    try:
        raise ValueError("bad")
    except ValueError:
        logger.info("with exc_info", exc_info=True)
    logger.info("rendered", exception="Traceback (most recent call last):\n  ...\nValueError: bad")
    logger.info("plain")
    assert [call.kwargs["event"] for call in capture.calls] == ["with exc_info", "rendered"]
