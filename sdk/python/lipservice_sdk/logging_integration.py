"""Stdlib logging: a handler that samples, counts and exports, and a filter that gates the logger's other handlers."""

from __future__ import annotations

import logging
import traceback
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lipservice_sdk._fork import in_sdk_thread, thread_state
from lipservice_sdk.decision import PATTERN_ATTRIBUTE, RATE_ATTRIBUTE, PatternIndex
from lipservice_sdk.events import AttributeValue, LogEvent, attribute_value, level_from_levelno, trace_from

if TYPE_CHECKING:
    from lipservice_sdk.runtime import AdaptiveLogging

# Set on a record the policy drops, so that every later handler (and another target logger) sees the verdict.
DROPPED_ATTRIBUTE = "lipservice.dropped"
_RESERVED: frozenset[str] = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    DROPPED_ATTRIBUTE,
}
_PASSTHROUGH_LOGGERS: tuple[str, ...] = ("lipservice_sdk", "opentelemetry")
_passthrough_names: dict[str, bool] = {}


_CODE_KEYS: frozenset[str] = frozenset({"logger.name", "code.function.name", "code.file.path", "code.line.number"})
_LEVELS: dict[int, str] = {}


def record_attributes(record: logging.LogRecord) -> dict[str, AttributeValue]:
    """Every attribute a record carries: its extras, the logger and code location, and the exception if any."""
    values = vars(record)
    extra_keys = values.keys() - _RESERVED  # usually empty: one set operation instead of a loop over the record
    attributes: dict[str, AttributeValue] = {key: attribute_value(values[key]) for key in extra_keys}
    if "status_code" in attributes and "http.status_code" not in attributes:
        attributes["http.status_code"] = attributes["status_code"]  # Django's request and server loggers
    attributes["logger.name"] = record.name
    attributes["code.function.name"] = record.funcName or ""
    attributes["code.file.path"] = record.pathname or ""
    attributes["code.line.number"] = record.lineno
    if record.exc_info and record.exc_info[0] is not None:
        kind, value, _ = record.exc_info
        attributes["exception.type"] = kind.__name__
        attributes["exception.message"] = attribute_value(value)
        attributes["exception.stacktrace"] = "".join(traceback.format_exception(*record.exc_info))[:32_768]
    return attributes


class RecordAttributes(Mapping[str, AttributeValue]):
    """A record's attributes, built in full only when a line is kept or held: deciding on a line needs at most the
    few attributes its policy's keep rules name, and those are read straight from the record."""

    __slots__ = ("_built", "_record")

    def __init__(self, record: logging.LogRecord) -> None:
        self._record = record
        self._built: dict[str, AttributeValue] | None = None

    def _all(self) -> dict[str, AttributeValue]:
        if self._built is None:
            self._built = record_attributes(self._record)
        return self._built

    def __getitem__(self, key: str) -> AttributeValue:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __bool__(self) -> bool:
        return True  # logger.name and the code location are always there

    def get(self, key: str, default: Any = None) -> Any:
        if self._built is not None or key in _CODE_KEYS or key.startswith("exception."):
            return self._all().get(key, default)
        values = self._record.__dict__
        if key in _RESERVED:
            return default
        if key in values:
            return attribute_value(values[key])
        if key == "http.status_code" and "status_code" in values:
            return attribute_value(values["status_code"])
        return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def copy(self) -> dict[str, AttributeValue]:
        """A plain dict of every attribute (what a kept line carries)."""
        return dict(self._all())

    def rough_size(self) -> int:
        """Bytes, roughly, without building the attributes (for the error-context byte cap)."""
        if self._built is not None:
            return sum(len(k) + (len(v) if isinstance(v, str) else 8) for k, v in self._built.items())
        return 48 * len(self._record.__dict__)


_MISSING = object()


def _is_passthrough_logger(name: str) -> bool:
    passthrough = name.startswith(_PASSTHROUGH_LOGGERS)
    if len(_passthrough_names) >= 10_000:  # loggers are few; this only bounds a pathological app
        _passthrough_names.clear()
    _passthrough_names[name] = passthrough
    return passthrough


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad %-args: the app's own handlers will report it; we still need a body
        return str(record.msg)


def _level(levelno: int) -> str:
    level = _LEVELS.get(levelno)
    if level is None:
        level = _LEVELS.setdefault(levelno, level_from_levelno(levelno))
    return level


_ALWAYS = ("",)  # record_keys for a policy whose keep rules read the record's fixed fields
_EXC_INFO = "exc_info"  # a record key that is always there; it counts only when it holds an exception


def _record_keys(index: PatternIndex) -> tuple[str, ...]:
    """Where a record carries the attributes the policy's keep rules read (worked out once per policy): a record
    with none of these keys cannot match a rule, so its attributes are not looked at."""
    keys: set[str] = set()
    for name in index.keep_attributes:
        if name in _CODE_KEYS:
            index.record_keys = _ALWAYS
            return _ALWAYS
        if name.startswith("exception."):
            keys.add(_EXC_INFO)  # set by logging.exception() and exc_info=...; an extra of that name counts too
        if name not in _RESERVED:
            keys.add(name)
            if name == "http.status_code":
                keys.add("status_code")  # RecordAttributes' alias
    found = index.record_keys = tuple(sorted(keys))
    return found


def take(runtime: AdaptiveLogging, record: logging.LogRecord) -> bool:
    """Decide on a record once: count it, export it (kept) or hold it (dropped, in a trace, with error context on),
    and mark it with the verdict. True when the record goes on to the logger's handlers.

    Records the SDK must not sample pass unmarked: its own and OpenTelemetry's, those logged on its threads or
    while it handles a line, and those structlog already decided. This runs on every logging call, so the usual
    steps are written out here rather than spread over helpers."""
    name = record.name
    passthrough = _passthrough_names.get(name)
    if passthrough is None:
        passthrough = _is_passthrough_logger(name)
    skip = thread_state.skip
    if skip is None:
        skip = in_sdk_thread()
    if passthrough or skip:
        return True
    msg = record.msg
    if type(msg) is str and not record.args:
        message = msg
    elif isinstance(msg, dict) and PATTERN_ATTRIBUTE in msg:
        return True
    else:
        message = _message(record)
    level = _LEVELS.get(record.levelno) or _level(record.levelno)
    values = record.__dict__
    timestamp = record.created
    trace_id = span_id = None
    try:
        trace_id, span_id = trace_from(values)
        decider = runtime.decider
        index = decider.current
        attributes: RecordAttributes | None = None
        if index.keep_attributes:
            keys = index.record_keys or _record_keys(index)
            if keys is _ALWAYS:
                attributes = RecordAttributes(record)
            else:
                for key in keys:
                    if key in values and (key is not _EXC_INFO or values[key]):
                        attributes = RecordAttributes(record)
                        break
        decision = decider.decide_line(message, level, timestamp, trace_id, attributes, None, index)
        if not decision.keep and record.levelno >= logging.ERROR:
            decision = replace(decision, keep=True, rate=1.0)  # never, whatever the policy says
    except Exception:
        decision = runtime.decision_failed()
    runtime.tally.add_line(decision.pattern_id, timestamp, decision.keep, message)
    if decision.keep:
        values[RATE_ATTRIBUTE] = decision.rate
        values[PATTERN_ATTRIBUTE] = decision.pattern_id
    else:
        values[DROPPED_ATTRIBUTE] = True
        if trace_id is None or not runtime.holds_context:
            return False  # the common dropped line: nothing is made for it
    if runtime.exporting:
        thread_state.skip = True  # lines the export path logs on this thread pass unsampled
        try:
            event = LogEvent(message, level, timestamp, trace_id, span_id, RecordAttributes(record))
            runtime.forward(event, decision)
        finally:
            thread_state.skip = False
    return decision.keep


class LipServiceFilter(logging.Filter):
    """Lets a handler see a record only when the policy keeps it."""

    def __init__(self, runtime: AdaptiveLogging) -> None:
        super().__init__()
        self.runtime = runtime

    def filter(self, record: logging.LogRecord) -> bool:
        values = record.__dict__
        if PATTERN_ATTRIBUTE in values:
            return True
        if DROPPED_ATTRIBUTE in values:
            return False
        try:
            return take(self.runtime, record)  # this handler comes before ours on the logger
        except Exception:
            self.runtime.note_internal_error()
            return True


class LipServiceHandler(logging.Handler):
    """Counts every record, exports kept ones and holds dropped ones for error context; gates its logger's handlers."""

    def __init__(self, runtime: AdaptiveLogging, target: logging.Logger) -> None:
        super().__init__()
        self.runtime = runtime
        self.target = target
        self.gate = LipServiceFilter(runtime)
        self.gated: weakref.WeakSet[logging.Handler] = weakref.WeakSet()
        self._synced: list[logging.Handler] = []

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: the runtime has finer locks, and a global one would serialise every logging thread.
        try:
            if self.target.handlers != self._synced:
                self.sync_gates()
            values = record.__dict__
            if PATTERN_ATTRIBUTE in values or DROPPED_ATTRIBUTE in values:
                return True  # decided already: by a gate, on another target logger, or by structlog
            if self.filters and not self.filter(record):
                return False
            take(self.runtime, record)
        except Exception:
            self.runtime.note_internal_error()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def handleError(self, record: logging.LogRecord) -> None:
        self.runtime.note_internal_error()

    def sync_gates(self) -> None:
        """Gate handlers added to the logger after configuration too (from their next record on)."""
        handlers = self.target.handlers
        for handler in tuple(handlers):
            if handler is not self and handler not in self.gated:
                handler.addFilter(self.gate)
                self.gated.add(handler)
        self._synced = list(handlers)

    def remove_gates(self) -> None:
        for handler in tuple(self.gated):
            handler.removeFilter(self.gate)
        self.gated = weakref.WeakSet()
        self._synced = []


class Installation:
    def __init__(self, handlers: list[LipServiceHandler]) -> None:
        self.handlers = handlers

    def uninstall(self) -> None:
        for handler in self.handlers:
            handler.target.removeHandler(handler)
            handler.remove_gates()


LoggerSpec = logging.Logger | str | None


def install(runtime: AdaptiveLogging, loggers: LoggerSpec | Sequence[LoggerSpec]) -> Installation:
    """Attach to each target logger (the root logger for None) and gate that logger's handlers."""
    specs: Sequence[LoggerSpec] = [loggers] if loggers is None or isinstance(loggers, str | logging.Logger) else loggers
    handlers: list[LipServiceHandler] = []
    for spec in specs:
        target = spec if isinstance(spec, logging.Logger) else logging.getLogger(spec or None)
        for stale in tuple(target.handlers):  # left by an earlier configuration that was never shut down
            if isinstance(stale, LipServiceHandler):
                target.removeHandler(stale)
                stale.remove_gates()
        handler = LipServiceHandler(runtime, target)
        handler.sync_gates()
        target.addHandler(handler)
        handlers.append(handler)
    return Installation(handlers)
