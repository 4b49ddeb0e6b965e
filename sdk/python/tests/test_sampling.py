"""Offline sampling through stdlib logging: exact shares, errors always kept, reconfiguration, no escaping errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from lipservice_fakes import ListHandler, dead_url
from lipservice_sdk import active, configure_adaptive_logging, logging_integration
from lipservice_sdk.decision import PATTERN_ATTRIBUTE, RATE_ATTRIBUTE, trace_unit
from lipservice_sdk.logging_integration import LipServiceFilter, LipServiceHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

RATE = 0.25
LINES = 2000


def _policy(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": "lipservice.policy/v1",
        "service": "checkout",
        "version": 3,
        "severity_rates": {"DEBUG": 0.0, "INFO": 1.0},
        "patterns": [{"id": "cart-viewed", "template": "Cart <*> viewed by user <*>", "rate": RATE}],
        "keep": {"first_per_pattern": False, "first_per_signature": False},
        "anomaly_boost": {"enabled": False},
    }
    document.update(overrides)
    return document


def _trace(i: int) -> str:
    return f"{i + 1:032x}"


def test_offline_policy_keeps_the_trace_hashed_share_and_every_error(
    app_logger: tuple[logging.Logger, ListHandler],
) -> None:
    logger, app = app_logger
    handle = configure_adaptive_logging("checkout", policy=_policy(), logger=logger)
    for i in range(LINES):
        logger.info("Cart %d viewed by user %s", i, f"u{i}", extra={"trace_id": _trace(i)})
    for i in range(50):
        logger.error("Payment %d declined", i)

    expected = sum(1 for i in range(LINES) if (trace_unit(_trace(i)) or 1.0) < RATE)
    assert 0.2 * LINES < expected < 0.3 * LINES
    infos = [r for r in app.records if r.levelno == logging.INFO]
    errors = [r for r in app.records if r.levelno == logging.ERROR]
    assert len(infos) == expected
    assert len(errors) == 50
    assert {getattr(r, PATTERN_ATTRIBUTE) for r in infos} == {"cart-viewed"}
    assert {getattr(r, RATE_ATTRIBUTE) for r in infos} == {RATE}
    stats = handle.stats()
    assert (stats["seen"], stats["kept"], stats["dropped"]) == (LINES + 50, expected + 50, LINES - expected)
    assert stats["policy_version"] == 3


def test_same_trace_is_kept_or_dropped_together(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    configure_adaptive_logging("checkout", policy=_policy(), logger=logger)
    traces = [_trace(i) for i in range(200)]
    for trace_id in traces:
        for step in range(3):
            logger.info("Cart %d viewed by user %s", step, "bob", extra={"trace_id": trace_id})
    kept_per_trace: dict[str, int] = {}
    for record in app.records:
        trace_id = record.__dict__["trace_id"]
        kept_per_trace[trace_id] = kept_per_trace.get(trace_id, 0) + 1
    assert set(kept_per_trace.values()) == {3}
    assert len(kept_per_trace) == sum(1 for t in traces if (trace_unit(t) or 1.0) < RATE)


def test_seeded_decisions_without_trace_ids_repeat(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    counts = []
    for _ in range(2):
        app.records.clear()
        configure_adaptive_logging("checkout", policy=_policy(), logger=logger, seed=42)
        for i in range(1000):
            logger.info("Cart %d viewed by user %s", i, "eve")
        counts.append([r.args for r in app.records])
    assert counts[0] == counts[1]
    assert 150 < len(counts[0]) < 350


def test_first_line_of_each_pattern_is_kept_even_at_rate_zero(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    policy = _policy(severity_rates={"INFO": 0.0}, keep={"first_per_pattern": True, "window_seconds": 0}, patterns=[])
    configure_adaptive_logging("checkout", policy=policy, logger=logger)
    for i in range(100):
        logger.info("Cart %d viewed by user %s", i, "ann")
        logger.info("Order %d shipped", i)
    assert [r.getMessage() for r in app.records] == ["Cart 0 viewed by user ann", "Order 0 shipped"]


def test_policy_from_a_json_file_with_defaults(tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(
            {
                "service": "checkout",
                "default_rate": 0.0,
                "keep": {"first_per_pattern": False, "first_per_signature": False},
            }
        )
    )
    handle = configure_adaptive_logging("checkout", policy=str(path), logger=logger)
    logger.info("Order %d shipped", 1)
    logger.warning("Disk %d%% full", 91)
    logger.critical("Database down")
    assert [r.getMessage() for r in app.records] == ["Database down"]
    assert handle.policy is not None and handle.policy.error_context.lines_per_trace == 50


def test_status_code_predicate_keeps_server_errors(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    configure_adaptive_logging("checkout", policy=_policy(severity_rates={"WARN": 0.0}), logger=logger)
    logger.warning("Request %s answered %d", "/cart", 404, extra={"status_code": 404})
    logger.warning("Request %s answered %d", "/cart", 503, extra={"status_code": 503})
    assert [r.__dict__["status_code"] for r in app.records] == [503]


def _audited(logger: logging.Logger) -> None:
    logger.info("Audited step")


def test_keep_rules_read_the_logger_code_location_exception_and_extras(
    app_logger: tuple[logging.Logger, ListHandler],
) -> None:
    logger, app = app_logger
    billing = logger.getChild("billing")
    rules = [
        {"attribute": "logger.name", "op": "eq", "value": billing.name},
        {"attribute": "code.function.name", "op": "eq", "value": "_audited"},
        {"attribute": "exception.type", "op": "exists"},
        {"attribute": "tenant.tier", "op": "in", "value": ["gold"]},
    ]
    policy = _policy(severity_rates={"INFO": 0.0}, patterns=[], keep={**_policy()["keep"], "attributes": rules})
    handle = configure_adaptive_logging("checkout", policy=policy, logger=logger)
    logger.info("Plain step")
    billing.info("Invoice sent")
    _audited(logger)
    try:
        raise ValueError("bad")
    except ValueError:
        logger.info("Recovered from a bad value", exc_info=True)
    logger.info("Tiered step", extra={"tenant.tier": "gold"})
    logger.info("Tiered step", extra={"tenant.tier": "free"})
    assert [(r.getMessage(), r.__dict__.get("tenant.tier")) for r in app.records] == [
        ("Invoice sent", None),
        ("Audited step", None),
        ("Recovered from a bad value", None),
        ("Tiered step", "gold"),
    ]
    stats = handle.stats()
    assert (stats["kept"], stats["dropped"]) == (4, 2)


def test_without_any_policy_everything_is_kept(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    handle = configure_adaptive_logging("checkout", logger=logger)
    for i in range(20):
        logger.debug("Tick %d", i)
    assert len(app.records) == 20
    assert handle.stats()["dropped"] == 0


def test_an_unreadable_policy_file_means_keep_everything(
    tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    path = tmp_path / "broken.json"
    path.write_text('{"service": "checkout", "default_rate": 7}')
    handle = configure_adaptive_logging("checkout", policy=path, logger=logger)
    logger.info("Order %d shipped", 1)
    assert len(app.records) == 1
    assert handle.policy is None
    assert handle.stats()["policy_errors"] == 1


def test_reconfiguring_replaces_the_handler_filters_and_threads(
    tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    first = configure_adaptive_logging(
        "checkout", policy=_policy(), logger=logger, lipservice_url=dead_url(), cache_dir=tmp_path, stats_interval=0.05
    )
    threads = [first._poller, first._reporter]
    second = configure_adaptive_logging("checkout", policy=_policy(default_rate=0.0), logger=logger)
    assert first.closed and active() is second
    assert all(t is not None and not t.worker.is_alive() for t in threads)
    assert [type(h) for h in logger.handlers].count(LipServiceHandler) == 1
    assert [type(f) for f in app.filters] == [LipServiceFilter]
    logger.info("Order %d shipped", 1)
    assert first.stats()["seen"] == 0 and second.stats()["seen"] == 1

    second.shutdown(1.0)
    assert not any(isinstance(h, LipServiceHandler) for h in logger.handlers)
    assert not any(isinstance(f, LipServiceFilter) for h in logger.handlers for f in h.filters)
    logger.info("Order %d shipped", 2)
    assert len(app.records) == 2


def test_handlers_added_later_are_gated_too(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, _ = app_logger
    configure_adaptive_logging("checkout", policy=_policy(default_rate=0.0, severity_rates={}), logger=logger)
    late = ListHandler()
    logger.addHandler(late)
    logger.info("Order %d shipped", 1)  # gates `late` on its way
    logger.info("Order %d shipped", 2)
    logger.error("Order %d lost", 3)
    assert [r.getMessage() for r in late.records] == ["Order 3 lost"]


class _ExplodingPolicy:
    patterns = ()

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"broken policy: {name}")


def _explode(*args: Any, **kwargs: Any) -> None:
    raise MemoryError("no room")


def test_a_broken_policy_object_fails_open(app_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, app = app_logger
    handle = configure_adaptive_logging("checkout", policy=_policy(), logger=logger)
    handle.decider.current = _ExplodingPolicy()  # type: ignore[assignment]
    logger.info("Cart %d viewed by user %s", 1, "x")
    logger.error("Payment %d declined", 2)
    assert [r.getMessage() for r in app.records] == ["Cart 1 viewed by user x", "Payment 2 declined"]
    assert handle.stats()["internal_errors"] == 2


@pytest.mark.parametrize(
    ("owner", "name"),
    [("decider", "decide_line"), ("tally", "add_line"), ("handle", "forward"), ("module", "trace_from")],
)
def test_sdk_failures_never_escape_into_logging_calls(
    owner: str, name: str, app_logger: tuple[logging.Logger, ListHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, app = app_logger
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    handle = configure_adaptive_logging("checkout", policy=_policy(), logger=logger, exporter=exporter)
    owners = {"decider": handle.decider, "tally": handle.tally, "handle": handle, "module": logging_integration}
    monkeypatch.setattr(owners[owner], name, _explode)
    monkeypatch.setattr(handle.counters, "add", _explode)
    logger.info("Cart %d viewed by user %s", 2, "y", extra={"trace_id": _trace(7)})
    logger.error("Payment %d declined", 3)
    assert app.records[-1].getMessage() == "Payment 3 declined"


def test_a_record_with_bad_arguments_is_still_decided_and_counted(
    app_logger: tuple[logging.Logger, ListHandler],
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging("checkout", policy=_policy(default_rate=1.0), logger=logger)
    record = logger.makeRecord("checkout", logging.INFO, "app.py", 1, "Order %d shipped", ("not a number",), None)
    assert logging_integration.take(handle, record) is True
    assert getattr(record, PATTERN_ATTRIBUTE)
    assert (handle.stats()["seen"], handle.stats()["internal_errors"]) == (1, 0)


def test_several_target_loggers_count_a_propagated_record_once() -> None:
    parent, child = logging.getLogger("multi"), logging.getLogger("multi.worker")
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    outer, inner = ListHandler(), ListHandler()
    parent.addHandler(outer)
    child.addHandler(inner)
    try:
        handle = configure_adaptive_logging(
            "checkout", policy=_policy(severity_rates={"INFO": 0.0}), logger=["multi.worker", parent]
        )
        child.info("Order %d shipped", 1)
        child.error("Order %d lost", 2)
        assert [r.getMessage() for r in inner.records] == [r.getMessage() for r in outer.records] == ["Order 2 lost"]
        assert (handle.stats()["seen"], handle.stats()["dropped"]) == (2, 1)
    finally:
        for logger in (parent, child):
            for existing in list(logger.handlers):
                logger.removeHandler(existing)
