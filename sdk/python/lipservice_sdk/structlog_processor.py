"""structlog: a processor that drops sampled-out events (DropEvent) and tags kept ones with the sampling attributes.

Put `lipservice_processor` (the active configuration) or `LipServiceProcessor(handle)` after `add_log_level` and
before the renderer. When structlog forwards into stdlib logging and the stdlib integration is installed, the stdlib
side sees every event already: the processor is then optional, and records it tagged pass the stdlib side untouched.
"""

from __future__ import annotations

import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog

from lipservice_sdk.decision import PATTERN_ATTRIBUTE, RATE_ATTRIBUTE
from lipservice_sdk.events import AttributeValue, LogEvent, attribute_value, trace_from
from lipservice_sdk.runtime import AdaptiveLogging, active
from lipservice_sdk.severity import normalize_severity

_SKIPPED_KEYS: frozenset[str] = frozenset(
    {"event", "level", "timestamp", "exc_info", "_record", "_from_structlog", RATE_ATTRIBUTE, PATTERN_ATTRIBUTE}
)
_METHOD_LEVELS: dict[str, str] = {"exception": "ERROR", "msg": "INFO", "log": "INFO", "failure": "ERROR"}


def event_from_dict(method_name: str, event_dict: MutableMapping[str, Any]) -> LogEvent:
    level_value = event_dict.get("level") or _METHOD_LEVELS.get(method_name, method_name)
    level = normalize_severity(level_value if isinstance(level_value, str | int) else str(level_value))
    trace_id, span_id = trace_from(event_dict)
    attributes: dict[str, AttributeValue] = {
        key: attribute_value(value) for key, value in event_dict.items() if key not in _SKIPPED_KEYS
    }
    if "exception.type" not in attributes:
        kind = _exception_type(event_dict)
        if kind is not None:
            attributes["exception.type"] = kind
    return LogEvent(
        message=str(event_dict.get("event", "")),
        level=level,
        timestamp=time.time(),
        trace_id=trace_id,
        span_id=span_id,
        attributes=attributes,
    )


def _exception_type(event_dict: MutableMapping[str, Any]) -> str | None:
    """The exception a structlog event carries: `exc_info` before rendering, the `exception` text after it."""
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return type(exc_info).__name__
    if isinstance(exc_info, tuple) and exc_info and isinstance(exc_info[0], type):
        return exc_info[0].__name__
    rendered = event_dict.get("exception")
    if isinstance(rendered, str) and rendered.strip():
        last = rendered.strip().splitlines()[-1]
        return last.split(":", 1)[0].strip()[:200] or "Exception"
    return None


class LipServiceProcessor:
    """Bound to one handle, or to whichever configuration is active when `handle` is None."""

    def __init__(self, handle: AdaptiveLogging | None = None, *, export: bool = True) -> None:
        self.handle = handle
        self.export = export

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        runtime = self.handle if self.handle is not None else active()
        if runtime is None or runtime.closed:
            return event_dict
        try:
            event = event_from_dict(method_name, event_dict)
            decision = runtime.decide(event)
            runtime.record(event, decision, export=self.export)
        except Exception:
            runtime.note_internal_error()
            return event_dict
        if not decision.keep:
            raise structlog.DropEvent
        event_dict[RATE_ATTRIBUTE] = decision.rate
        event_dict[PATTERN_ATTRIBUTE] = decision.pattern_id
        return event_dict


lipservice_processor = LipServiceProcessor()
