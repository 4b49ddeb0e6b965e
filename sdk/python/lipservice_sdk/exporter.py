"""Kept lines to PostHog through the OpenTelemetry logs SDK: OTLP/HTTP, gzip, batched on a bounded queue."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from lipservice_sdk._fork import start_thread
from lipservice_sdk.counters import Counters

_log = logging.getLogger("lipservice_sdk")
AttributeValue = str | bool | int | float
# Above this share of the queue only errors are accepted, so a flood of INFO lines cannot shed an error.
ERROR_RESERVE = 0.1
# Records wait at most this long on the logging side before the feeder hands them to OpenTelemetry...
FEED_SECONDS = 0.05
# ...or until this many are waiting, when the logging thread hands them over itself.
FEED_BATCH = 256


@dataclass(slots=True)
class OutRecord:
    """One line to send, independent of where it came from (stdlib logging, structlog, the error-context buffer)."""

    body: str
    severity_text: str
    severity_number: int
    timestamp_ns: int
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    trace_id: int = 0
    span_id: int = 0
    trace_flags: int = 0
    error: bool = False


def posthog_logs_endpoint(host: str) -> str:
    return host.rstrip("/") + "/i/v1/logs"


# ERROR and FATAL records that PostHog did not take wait here, oldest first, and are sent again with backoff.
SPOOL_LIMIT = 10_000
SPOOL_BACKOFF_SECONDS = (1.0, 30.0)
_ERROR_NUMBER = 17


def _is_error(record: ReadableLogRecord) -> bool:
    number = getattr(getattr(record, "log_record", record), "severity_number", None)
    return number is not None and int(getattr(number, "value", number)) >= _ERROR_NUMBER


class _CountingExporter(LogRecordExporter):
    """Counts what PostHog took; an export that failed (after the OTLP exporter's own retries) loses its other
    lines, counted, while its errors go to a bounded spool that a thread re-sends in order until PostHog answers."""

    def __init__(self, inner: LogRecordExporter, sink: OtlpSink) -> None:
        self._inner = inner
        self._sink = sink
        self._send_lock = threading.Lock()
        self._spool: deque[ReadableLogRecord] = deque()
        self._spool_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._retrier: threading.Thread | None = None

    def _send(self, batch: Sequence[ReadableLogRecord]) -> bool:
        with self._send_lock:
            try:
                return self._inner.export(batch) == LogRecordExportResult.SUCCESS
            except Exception:
                return False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self._sink._dequeued(len(batch))
        counters = self._sink.counters
        if self._send(batch):
            counters.add("exported", len(batch))
            if self._spool:
                self._wake.set()
            return LogRecordExportResult.SUCCESS
        errors = [record for record in batch if _is_error(record)]
        counters.add("export_failed", len(batch) - len(errors))
        self._keep(errors)
        return LogRecordExportResult.FAILURE

    def _keep(self, errors: list[ReadableLogRecord]) -> None:
        if not errors:
            return
        with self._spool_lock:
            room = SPOOL_LIMIT - len(self._spool)
            self._spool.extend(errors[: max(0, room)])
            if self._retrier is None:
                self._retrier = start_thread(self._retry_loop, "lipservice-otlp-retry")
        lost = len(errors) - max(0, room)
        self._sink.counters.add("errors_spooled", len(errors) - max(0, lost))
        if lost > 0:
            self._sink.counters.add("errors_lost", lost)

    def _retry_loop(self) -> None:
        delay, longest = SPOOL_BACKOFF_SECONDS
        while not self._stopped.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopped.is_set():
                return
            with self._spool_lock:
                batch = [self._spool[i] for i in range(min(len(self._spool), 512))]
            if not batch:
                continue
            if self._send(batch):
                with self._spool_lock:
                    for _ in batch:
                        self._spool.popleft()
                self._sink.counters.add("exported", len(batch))
                self._sink.counters.add("errors_resent", len(batch))
                delay = SPOOL_BACKOFF_SECONDS[0]
                if self._spool:
                    self._wake.set()
            else:
                delay = min(longest, delay * 2)

    def spooled(self) -> int:
        with self._spool_lock:
            return len(self._spool)

    def shutdown(self) -> None:
        if self._spool:
            self._wake.set()
            self._retry_now()
        self._stopped.set()
        self._wake.set()
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def _retry_now(self) -> None:
        """One last attempt at the spool on shutdown; what remains is counted lost."""
        with self._spool_lock:
            batch = list(self._spool)
            self._spool.clear()
        if batch and self._send(batch):
            self._sink.counters.add("exported", len(batch))
            self._sink.counters.add("errors_resent", len(batch))
        elif batch:
            self._sink.counters.add("errors_lost", len(batch))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class OtlpSink:
    """Owns one LoggerProvider + BatchLogRecordProcessor + OTLPLogExporter; never blocks `emit` on the network."""

    def __init__(
        self,
        *,
        endpoint: str,
        token: str,
        service_name: str,
        counters: Counters,
        sdk_version: str,
        timeout: float = 10.0,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay: float = 1.0,
        exporter: LogRecordExporter | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.counters = counters
        self._settings = (token, service_name, sdk_version, timeout, max_queue_size, max_export_batch_size)
        self._schedule_delay = schedule_delay
        self._custom_exporter = exporter
        self.max_queue_size = max_queue_size
        self._soft_cap = max(1, int(max_queue_size * (1 - ERROR_RESERVE)))
        self._lock = threading.Lock()
        self._queued = 0
        self._pending: deque[OutRecord] = deque()
        self._feed_lock = threading.Lock()
        self._stopped = threading.Event()
        self._feeder: threading.Thread | None = None
        self._build()

    def _build(self) -> None:
        token, service_name, sdk_version, timeout, max_queue_size, batch_size = self._settings
        exporter = self._custom_exporter or OTLPLogExporter(
            endpoint=self.endpoint,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            compression=Compression.Gzip,
        )
        self._processor: LogRecordProcessor = BatchLogRecordProcessor(
            _CountingExporter(exporter, self),
            schedule_delay_millis=self._schedule_delay * 1000,
            max_export_batch_size=min(batch_size, max_queue_size),
            export_timeout_millis=timeout * 1000,
            max_queue_size=max_queue_size,
        )
        resource = Resource.create({}).merge(
            Resource({"service.name": service_name, "lipservice.sdk.version": sdk_version})
        )
        self._provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self._provider.add_log_record_processor(self._processor)
        self._logger = self._provider.get_logger("lipservice_sdk", sdk_version)

    def _admit(self, error: bool) -> bool:
        with self._lock:
            if self._queued >= (self.max_queue_size if error else self._soft_cap):
                self.counters.add("shed_errors" if error else "shed")
                return False
            self._queued += 1
            return True

    def _dequeued(self, count: int) -> None:
        with self._lock:
            self._queued = max(0, self._queued - count)

    def emit(self, record: OutRecord) -> bool:
        """Queue one record; False when it was shed because the queue is full.

        The logging thread only appends to a deque; the SDK's feeder thread turns records into OpenTelemetry log
        records (attribute checks and copies) and hands them to the batch processor every FEED_SECONDS. When
        FEED_BATCH records are waiting (a burst), the logging thread feeds them itself: a producer that outruns
        the feeder slows down instead of filling the queue.
        """
        if not self._admit(record.error):
            return False
        pending = self._pending
        pending.append(record)
        if self._feeder is None:
            self._start_feeder()
        if len(pending) >= FEED_BATCH:
            self._feed()
        return True

    def _start_feeder(self) -> None:
        with self._lock:
            if self._feeder is None:
                self._feeder = start_thread(self._feed_loop, "lipservice-otlp-feeder")

    def _feed_loop(self) -> None:
        stopped = self._stopped
        while not stopped.wait(FEED_SECONDS):
            self._feed()

    def _feed(self) -> None:
        with self._feed_lock:
            pending = self._pending
            while pending:
                try:
                    record = pending.popleft()
                except IndexError:
                    return
                try:
                    self._emit_now(record)
                except Exception:
                    self._dequeued(1)
                    self.counters.add("internal_errors")
                    _log.debug("lipservice: handing a record to OpenTelemetry failed", exc_info=True)

    def _emit_now(self, record: OutRecord) -> None:
        context: Context | None = None
        if record.trace_id:
            span_context = SpanContext(record.trace_id, record.span_id, False, TraceFlags(record.trace_flags & 0xFF))
            context = trace.set_span_in_context(NonRecordingSpan(span_context), Context())
        self._logger.emit(
            LogRecord(
                timestamp=record.timestamp_ns,
                context=context,
                severity_text=record.severity_text,
                severity_number=SeverityNumber(record.severity_number),
                body=record.body,
                attributes=record.attributes,
            )
        )

    def flush(self, timeout: float) -> bool:
        def run() -> object:
            self._feed()
            return self._provider.force_flush(int(timeout * 1000))

        return _with_deadline(run, timeout)

    def shutdown(self, timeout: float) -> bool:
        def run() -> object:
            self._feed()
            self._stopped.set()
            self._provider.shutdown()
            return True

        return _with_deadline(run, timeout)

    def after_fork_in_child(self) -> None:
        # The inherited HTTP session may share sockets with the parent: abandon the old pipeline, build a new one.
        old = self._provider
        self._lock = threading.Lock()
        self._queued = 0
        self._reset_feeder()
        self._build()
        if self._custom_exporter is not None:  # shared with the new pipeline: shutting the old one down would close it
            return
        try:
            old.shutdown()
        except Exception:
            _log.debug("lipservice: closing the inherited OTLP pipeline failed", exc_info=True)

    def _reset_feeder(self) -> None:
        self._pending = deque()
        self._feed_lock = threading.Lock()
        self._stopped = threading.Event()
        self._feeder = None


def _with_deadline(action: Callable[[], object], timeout: float) -> bool:
    """Run a possibly slow OpenTelemetry call on a helper thread so the caller waits at most `timeout` seconds."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception:
            _log.debug("lipservice: OpenTelemetry flush/shutdown failed", exc_info=True)
            outcome.append(False)

    start_thread(run, "lipservice-otel-flush").join(max(0.0, timeout))
    return bool(outcome and outcome[0] is not False)
