"""Stdlib logging: a handler that samples, counts and exports, and a filter that gates the logger's other handlers."""

from __future__ import annotations

import logging
import threading
import traceback
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lipservice_sdk._fork import in_sdk_thread
from lipservice_sdk.decision import PATTERN_ATTRIBUTE, RATE_ATTRIBUTE, Decision
from lipservice_sdk.events import AttributeValue, LogEvent, attribute_value, level_from_levelno, trace_from

if TYPE_CHECKING:
    from lipservice_sdk.runtime import AdaptiveLogging

_RESERVED: frozenset[str] = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_PASSTHROUGH_LOGGERS: tuple[str, ...] = ("lipservice_sdk", "opentelemetry")
_local = threading.local()
_MEMO_SIZE = 4

Verdict = tuple[LogEvent, Decision] | None


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


def event_from_record(record: logging.LogRecord) -> LogEvent:
    try:
        message = record.getMessage()
    except Exception:  # bad %-args: the app's own handlers will report it; we still need a body
        message = str(record.msg)
    values = record.__dict__
    trace_id, span_id = trace_from(values)
    level = _LEVELS.get(record.levelno)
    if level is None:
        level = _LEVELS.setdefault(record.levelno, level_from_levelno(record.levelno))
    return LogEvent(
        message=message,
        level=level,
        timestamp=record.created,
        trace_id=trace_id,
        span_id=span_id,
        attributes=RecordAttributes(record),
    )


def _passthrough(record: logging.LogRecord) -> bool:
    """Records the SDK must not sample: its own, OpenTelemetry's, those from its threads, or decided by structlog."""
    if record.name.startswith(_PASSTHROUGH_LOGGERS) or in_sdk_thread() or getattr(_local, "busy", False):
        return True
    if PATTERN_ATTRIBUTE in record.__dict__:
        return True
    return isinstance(record.msg, dict) and PATTERN_ATTRIBUTE in record.msg


class _Memo:
    __slots__ = ("record", "recorded", "runtime", "verdict")

    def __init__(self, record: logging.LogRecord, runtime: AdaptiveLogging, verdict: Verdict) -> None:
        self.record = weakref.ref(record)
        self.runtime = runtime
        self.verdict = verdict
        self.recorded = False


def _memo_for(runtime: AdaptiveLogging, record: logging.LogRecord) -> _Memo:
    """One decision per record: filters and handlers run in the logging call's thread and share it."""
    memos: list[_Memo] | None = getattr(_local, "memos", None)
    if memos is None:
        memos = _local.memos = []
    for memo in memos:
        if memo.record() is record and memo.runtime is runtime:
            return memo
    verdict: Verdict = None
    if not _passthrough(record):
        event = event_from_record(record)
        verdict = (event, runtime.decide(event))
        if verdict[1].keep:
            record.__dict__[RATE_ATTRIBUTE] = verdict[1].rate
            record.__dict__[PATTERN_ATTRIBUTE] = verdict[1].pattern_id
    memo = _Memo(record, runtime, verdict)
    # A few entries, because a handler may log (a nested record) between the filter and our handler.
    memos.append(memo)
    if len(memos) > _MEMO_SIZE:
        del memos[0]
    return memo


def verdict_for(runtime: AdaptiveLogging, record: logging.LogRecord) -> Verdict:
    return _memo_for(runtime, record).verdict


class LipServiceFilter(logging.Filter):
    """Lets a handler see a record only when the policy keeps it."""

    def __init__(self, runtime: AdaptiveLogging) -> None:
        super().__init__()
        self.runtime = runtime

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            verdict = verdict_for(self.runtime, record)
            return verdict is None or verdict[1].keep
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
            if self.filters and not self.filter(record):
                return False
            self.emit(record)
        except Exception:
            self.runtime.note_internal_error()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sync_gates()
            memo = _memo_for(self.runtime, record)
            if memo.verdict is None or memo.recorded:  # recorded: a target logger's ancestor is a target too
                return
            memo.recorded = True
            _local.busy = True
            try:
                self.runtime.record(*memo.verdict)
            finally:
                _local.busy = False
        except Exception:
            self.runtime.note_internal_error()

    def handleError(self, record: logging.LogRecord) -> None:
        self.runtime.note_internal_error()

    def sync_gates(self) -> None:
        """Gate handlers added to the logger after configuration too (from their next record on)."""
        handlers = self.target.handlers
        if handlers == self._synced:  # the usual case: nothing added since the last record
            return
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
