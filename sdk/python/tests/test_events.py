"""Turning log records into events: severity buckets, trace ids from any source, OTLP-safe attribute values."""

from __future__ import annotations

import logging
import sys

import pytest
from lipservice_sdk import events
from lipservice_sdk.events import SPAN_KEYS, TRACE_KEYS, attribute_value, hex_id, level_from_levelno, trace_from
from lipservice_sdk.logging_integration import RecordAttributes
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import propagation as trace_propagation


@pytest.mark.parametrize(
    ("levelno", "level"),
    [(1, "TRACE"), (10, "DEBUG"), (15, "DEBUG"), (20, "INFO"), (25, "INFO"), (30, "WARN"), (40, "ERROR"),
     (45, "ERROR"), (50, "FATAL"), (60, "FATAL")],
)  # fmt: skip
def test_levels_map_by_number(levelno: int, level: str) -> None:
    assert level_from_levelno(levelno) == level


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, (None, None)),
        ({"trace_id": "abc", "span_id": "def"}, ("abc", "def")),
        ({"otelTraceID": "0af7651916cd43dd8448eb211c80319c", "otelSpanID": "b7ad6b7169203331"},
         ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")),
        ({"trace_id": 255}, ("000000000000000000000000000000ff", None)),
        ({"trace_id": "", "traceId": "xyz"}, ("xyz", None)),
        ({"trace_id": True}, (None, None)),
    ],
)  # fmt: skip
def test_trace_ids_come_from_the_first_known_key(values: dict[str, object], expected: tuple[object, object]) -> None:
    assert trace_from(values) == expected


def test_the_active_span_wins_over_record_keys() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        found = trace_from({"trace_id": "abc"})
    context = span.get_span_context()
    assert found == (format(context.trace_id, "032x"), format(context.span_id, "016x"))


@pytest.mark.parametrize(("trace_key", "span_key"), list(zip(TRACE_KEYS, SPAN_KEYS, strict=True)))
def test_every_trace_key_is_read(trace_key: str, span_key: str) -> None:
    assert trace_from({trace_key: "ab" * 16, span_key: "cd" * 8, "other": 1}) == ("ab" * 16, "cd" * 8)


def _public_trace() -> tuple[str, str] | None:
    """What OpenTelemetry's public API says about the active span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def _in_context(value: object) -> otel_context.Context:
    return otel_context.set_value(trace_propagation._SPAN_KEY, value)


_SPANS = {
    "no span": lambda: otel_context.get_current(),
    "a recording span": lambda: trace.set_span_in_context(TracerProvider().get_tracer("test").start_span("work")),
    "an invalid span": lambda: trace.set_span_in_context(trace.INVALID_SPAN),
    "a remote span": lambda: trace.set_span_in_context(
        trace.NonRecordingSpan(trace.SpanContext(0xABC, 0xDEF, is_remote=True))
    ),
    "a span with a zero trace id": lambda: trace.set_span_in_context(
        trace.NonRecordingSpan(trace.SpanContext(0, 0xDEF, is_remote=True))
    ),
    "something that is not a span": lambda: _in_context("not a span"),
}


@pytest.mark.parametrize("case", list(_SPANS))
@pytest.mark.parametrize("direct", [True, False], ids=["context variable", "public api"])
def test_the_active_span_is_read_as_the_public_api_reads_it(
    case: str, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert events._CONTEXT is not None  # the default runtime context: the direct read is in use
    if not direct:
        monkeypatch.setattr(events, "_CONTEXT", None)
    token = otel_context.attach(_SPANS[case]())
    try:
        found, expected = events.current_trace(), _public_trace()
    finally:
        otel_context.detach(token)
    assert found == expected
    assert (found is not None) == (case in {"a recording span", "a remote span"})


@pytest.mark.parametrize(
    ("text", "bits", "expected"),
    [("ff", 64, 255), ("0af7651916cd43dd8448eb211c80319c", 128, 0x0AF7651916CD43DD8448EB211C80319C),
     ("123e4567-e89b-12d3-a456-426614174000", 128, 0x123E4567E89B12D3A456426614174000), ("xyz", 128, 0),
     ("1" * 33, 128, 0), (None, 64, 0), ("", 64, 0)],
)  # fmt: skip
def test_hex_ids(text: str | None, bits: int, expected: int) -> None:
    assert hex_id(text, bits=bits) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (3, 3), (2.5, 2.5), (2**63, str(2**63)), (-(2**63), -(2**63)), ("x" * 5000, "x" * 4096),
     ([1, 2], "[1, 2]"), (None, "None")],
)  # fmt: skip
def test_attribute_values_are_otlp_safe(value: object, expected: object) -> None:
    assert attribute_value(value) == expected


def test_record_extras_become_attributes_and_exceptions_are_described() -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        record = logging.getLogger("shop").makeRecord(
            "shop", logging.ERROR, "/app/shop.py", 12, "Order %s failed", ("A1",), exc_info=sys.exc_info(),
            extra={"status_code": 502, "order": object.__new__(object)},
        )  # fmt: skip
    attributes = RecordAttributes(record)
    assert attributes.get("status_code") == 502 and "http.status_code" in attributes  # read without building
    assert attributes["http.status_code"] == 502 and attributes["status_code"] == 502
    assert str(attributes["order"]).startswith("<object object")
    assert (attributes["logger.name"], attributes["code.line.number"]) == ("shop", 12)
    assert (attributes["exception.type"], attributes["exception.message"]) == ("ValueError", "bad input")
    assert "Traceback" in str(attributes["exception.stacktrace"])
