"""Trace-consistent sampling across services: at equal rates, two services keep exactly the same requests, whole,
and the kept share of requests is the rate."""

from __future__ import annotations

import logging
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import structlog
from lipservice_fakes import ListHandler
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.decision import Decider
from lipservice_sdk.policy import PolicyDocument, policy_from_dict
from lipservice_sdk.structlog_processor import LipServiceProcessor
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from structlog.testing import CapturingLogger

TRACES = 5000
SIGMAS = 5.0
# The first line of a pattern (or template key) in a window is kept whatever its trace; these policies leave that rule
# out so that every line below is decided by its trace alone, and no anomaly boost lifts a rate mid-run.
NO_FIRST_LINES = {"first_per_pattern": False, "first_per_signature": False}
CHECKOUT_LINES = (
    ("INFO", "Cart {n} viewed by user u{n}"),
    ("DEBUG", "Loaded {n} items from cache in {n}ms"),
    ("INFO", "Order {n} placed with total {n}.50 EUR"),
)
PAYMENTS_LINES = (
    ("INFO", "Charging card for order {n}"),
    ("WARN", "Gateway answered slowly after {n} ms for order {n}"),
)
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING}
PROPAGATOR = TraceContextTextMapPropagator()


def _checkout_policy(rate: float, **overrides: Any) -> PolicyDocument:
    """Checkout samples by pattern rates."""
    return policy_from_dict(
        {
            "service": "checkout",
            "severity_rates": {"DEBUG": 1.0, "INFO": 1.0},
            "patterns": [
                {"id": "cart-viewed", "template": "Cart <*> viewed by user <*>", "rate": rate},
                {"id": "cache-loaded", "template": "Loaded <*> items from cache in <*>", "rate": rate},
                {"id": "order-placed", "template": "Order <*> placed with total <*> EUR", "rate": rate},
            ],
            "keep": NO_FIRST_LINES,
            "anomaly_boost": {"enabled": False},
            **overrides,
        }
    )


def _payments_policy(rate: float, **overrides: Any) -> PolicyDocument:
    """Payments has no pattern rules: its lines take the severity rates, at the same value."""
    return policy_from_dict(
        {
            "service": "payments",
            "severity_rates": {"INFO": rate, "WARN": rate},
            "default_rate": 1.0,
            "keep": NO_FIRST_LINES,
            "anomaly_boost": {"enabled": False},
            **overrides,
        }
    )


def _trace_ids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(128) or 1:032x}" for _ in range(count)]


def _kept_requests(kept_lines: Iterable[int], lines_per_request: int) -> set[int]:
    """The requests whose lines were kept; every request must be kept or dropped whole."""
    per_request: dict[int, int] = defaultdict(int)
    for request in kept_lines:
        per_request[request] += 1
    partial = {request: n for request, n in per_request.items() if n != lines_per_request}
    assert not partial, f"requests kept in part (request: lines kept of {lines_per_request}): {partial}"
    return set(per_request)


def _assert_share(kept: int, total: int, rate: float) -> None:
    expected = total * rate
    bound = SIGMAS * math.sqrt(total * rate * (1.0 - rate))
    message = f"kept {kept} of {total} at rate {rate}: expected {expected:.0f} ± {bound:.0f}"
    assert abs(kept - expected) <= bound, message


def _decide_all(decider: Decider, lines: tuple[tuple[str, str], ...], trace_ids: list[str]) -> list[int]:
    """The request index of every kept line."""
    return [
        request
        for request, trace_id in enumerate(trace_ids)
        for level, text in lines
        if decider.decide(message=text.format(n=request), severity=level, trace_id=trace_id).keep
    ]


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_two_services_keep_the_same_traces_at_the_same_rate(rate: float) -> None:
    trace_ids = _trace_ids(TRACES, seed=int(rate * 1000))
    checkout = _kept_requests(
        _decide_all(Decider(_checkout_policy(rate)), CHECKOUT_LINES, trace_ids), len(CHECKOUT_LINES)
    )
    payments = _kept_requests(
        _decide_all(Decider(_payments_policy(rate)), PAYMENTS_LINES, trace_ids), len(PAYMENTS_LINES)
    )
    assert checkout == payments
    _assert_share(len(checkout), TRACES, rate)


def test_without_trace_consistency_the_services_keep_different_traces() -> None:
    trace_ids = _trace_ids(TRACES, seed=3)
    checkout = _decide_all(
        Decider(_checkout_policy(0.5, trace_consistent=False), rng=random.Random(1)), CHECKOUT_LINES, trace_ids
    )
    payments = _decide_all(
        Decider(_payments_policy(0.5, trace_consistent=False), rng=random.Random(2)), PAYMENTS_LINES, trace_ids
    )
    assert set(checkout) != set(payments)
    _assert_share(len(checkout), TRACES * len(CHECKOUT_LINES), 0.5)


def _checkout_requests(
    rate: float, app_logger: tuple[logging.Logger, ListHandler], *, requests: int
) -> tuple[set[int], list[dict[str, str]]]:
    """Checkout logs inside its own OpenTelemetry spans and passes each request's traceparent on to payments."""
    logger, app = app_logger
    configure_adaptive_logging("checkout", policy=_checkout_policy(rate), logger=logger)
    tracer = TracerProvider().get_tracer("checkout")
    carriers: list[dict[str, str]] = []
    for request in range(requests):
        with tracer.start_as_current_span("POST /checkout"):
            for level, text in CHECKOUT_LINES:
                logger.log(LEVELS[level], text.format(n=request), extra={"request": request})
            carrier: dict[str, str] = {}
            PROPAGATOR.inject(carrier)
            carriers.append(carrier)
    kept = _kept_requests((vars(record)["request"] for record in app.records), len(CHECKOUT_LINES))
    return kept, carriers


def _in_child_span(tracer: Tracer, carrier: dict[str, str], emit: Callable[[], None]) -> None:
    """Payments continues the caller's trace, as an instrumented server does with an incoming traceparent."""
    token = otel_context.attach(PROPAGATOR.extract(carrier))
    try:
        with tracer.start_as_current_span("charge"):
            emit()
    finally:
        otel_context.detach(token)


def _trace_key(carrier: dict[str, str]) -> dict[str, str]:
    """The trace id as a service reading the traceparent header by hand would log it."""
    return {"trace_id": carrier["traceparent"].split("-")[1]}


@pytest.mark.parametrize("rate", [0.2, 0.6])
@pytest.mark.parametrize("payments_trace", ["span", "key"])
def test_services_keep_the_same_requests_through_opentelemetry_context(
    rate: float, payments_trace: str, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    checkout, carriers = _checkout_requests(rate, app_logger, requests=TRACES)

    handle = configure_adaptive_logging("payments", policy=_payments_policy(rate), install_logging=False)
    capture = CapturingLogger()
    logger = structlog.wrap_logger(
        capture,
        processors=[structlog.processors.add_log_level, LipServiceProcessor(handle)],
        wrapper_class=structlog.BoundLogger,
    )
    tracer = TracerProvider().get_tracer("payments")
    for request, carrier in enumerate(carriers):

        def emit(request: int = request, extra: dict[str, str] | None = None) -> None:
            for level, text in PAYMENTS_LINES:
                method = logger.warning if level == "WARN" else logger.info
                method(text.format(n=request), request=request, **(extra or {}))

        if payments_trace == "span":
            _in_child_span(tracer, carrier, emit)
        else:
            emit(extra=_trace_key(carrier))
    payments = _kept_requests((call.kwargs["request"] for call in capture.calls), len(PAYMENTS_LINES))

    assert handle.stats()["seen"] == TRACES * len(PAYMENTS_LINES)
    assert checkout == payments
    _assert_share(len(checkout), TRACES, rate)
