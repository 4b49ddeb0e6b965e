"""A log line as the SDK sees it, whatever produced it, and the trace id lookup shared by every integration."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import Span
from opentelemetry.trace import propagation as trace_propagation

from lipservice_sdk.severity import SEVERITIES, severity_number

AttributeValue = str | bool | int | float
TRACE_KEYS: tuple[str, ...] = ("trace_id", "otelTraceID", "trace.id", "traceId")
SPAN_KEYS: tuple[str, ...] = ("span_id", "otelSpanID", "span.id", "spanId")
MAX_ATTRIBUTE_CHARS = 4096
_HEX = re.compile(r"[0-9a-fA-F]{1,32}")


@dataclass(slots=True)
class LogEvent:
    """One line; treated as immutable (a plain slotted class, since one is made for every logging call)."""

    message: str
    level: str  # one of severity.SEVERITIES
    timestamp: float = field(default_factory=time.time)
    trace_id: str | None = None
    span_id: str | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)

    @property
    def severity_number(self) -> int:
        return severity_number(self.level)


def level_from_levelno(levelno: int) -> str:
    """Stdlib numeric level to a severity bucket, so custom levels between the standard ones still sort right."""
    if levelno >= 50:
        return "FATAL"
    if levelno >= 40:
        return "ERROR"
    if levelno >= 30:
        return "WARN"
    if levelno >= 20:
        return "INFO"
    if levelno >= 10:
        return "DEBUG"
    return SEVERITIES[0]


def _context_variable() -> ContextVar[Any] | None:
    """The context variable behind OpenTelemetry's default runtime context, when that is the one in use.

    Reading it directly costs a fraction of `trace.get_current_span()`, which matters on every logging call; with any
    other runtime context (OTEL_PYTHON_CONTEXT) or a different layout the public API is used instead."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if type(runtime) is not ContextVarsRuntimeContext or not isinstance(_SPAN_KEY, str):
        return None
    variable = getattr(runtime, "_current_context", None)
    return variable if isinstance(variable, ContextVar) else None


_SPAN_KEY: Any = getattr(trace_propagation, "_SPAN_KEY", None)
_CONTEXT: ContextVar[Any] | None = _context_variable()


def current_trace() -> tuple[str, str] | None:
    """(trace id, span id) as lower-case hex from the OpenTelemetry span active in this context, if any."""
    span = _CONTEXT.get().get(_SPAN_KEY) if _CONTEXT is not None else trace.get_current_span()
    return None if span is None else _span_ids(span)


def _span_ids(span: Any) -> tuple[str, str] | None:
    if not isinstance(span, Span):
        return None  # what get_current_span makes of anything else: the invalid span
    span_context = span.get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def trace_from(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The trace (and span) id from the active span, else from the first trace-id key present in `values`."""
    # current_trace, inline: this runs on every line, and outside a request there is no span at all.
    span = _CONTEXT.get().get(_SPAN_KEY) if _CONTEXT is not None else trace.get_current_span()
    if span is not None:
        found = _span_ids(span)
        if found is not None:
            return found
    if (  # TRACE_KEYS, spelled out: this runs on every line
        "trace_id" not in values
        and "otelTraceID" not in values
        and "trace.id" not in values
        and "traceId" not in values
    ):
        return None, None
    trace_id = _first_text(values, TRACE_KEYS, width=32)
    return trace_id, _first_text(values, SPAN_KEYS, width=16) if trace_id else None


def hex_id(value: str | None, *, bits: int) -> int:
    """An OTLP id from hex text (dashes allowed, as in a UUID); 0 when it is not hex or too long."""
    if not value:
        return 0
    text = value.replace("-", "")
    if len(text) > bits // 4 or _HEX.fullmatch(text) is None:
        return 0
    return int(text, 16)


def attribute_value(value: Any) -> AttributeValue:
    """A value OTLP can carry: bool, 64-bit int, float or (truncated) text; one bad value must not fail a batch."""
    if isinstance(value, bool | float):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    text = value if isinstance(value, str) else _safe_str(value)
    return text[:MAX_ATTRIBUTE_CHARS]


def _first_text(values: Mapping[str, Any], keys: tuple[str, ...], *, width: int) -> str | None:
    for key in keys:
        value = values.get(key)
        if value is None or value == "" or isinstance(value, bool):
            continue
        if isinstance(value, int):
            return format(value, f"0{width}x") if value > 0 else None
        return value if isinstance(value, str) else _safe_str(value)
    return None


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
