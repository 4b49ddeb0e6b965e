"""Kept lines to PostHog through the OpenTelemetry logs SDK: OTLP/HTTP, gzip, batched on a bounded queue."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from lipservice_sdk._fork import start_thread
from lipservice_sdk.counters import Counters
from lipservice_sdk.spool import DiskSpool, OtlpPoster

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
    lines, counted, while its errors go to a bounded spool (memory, or a directory that outlives the process) that a
    thread re-sends in order until PostHog answers, waiting at least as long as PostHog's Retry-After asks."""

    def __init__(
        self, inner: LogRecordExporter, sink: OtlpSink, poster: OtlpPoster | None, disk: DiskSpool | None
    ) -> None:
        self._inner = inner
        self._sink = sink
        self._poster = poster
        self._disk = disk
        self._send_lock = threading.Lock()
        self._spool: deque[ReadableLogRecord] = deque()
        self._spool_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._retrier: threading.Thread | None = None
        if disk is not None and disk.pending():
            self._start_retrier()
            self._wake.set()

    def _send(self, batch: Sequence[ReadableLogRecord]) -> bool:
        with self._send_lock:
            try:
                return self._inner.export(batch) == LogRecordExportResult.SUCCESS
            except Exception:
                return False

    def _post(self, payload: bytes) -> tuple[str, float | None]:
        assert self._poster is not None
        with self._send_lock:
            return self._poster.post(payload)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self._sink._dequeued(len(batch))
        counters = self._sink.counters
        if self._send(batch):
            counters.add("exported", len(batch))
            if self._spool or self._disk is not None:
                self._wake.set()
            return LogRecordExportResult.SUCCESS
        errors = [record for record in batch if _is_error(record)]
        counters.add("export_failed", len(batch) - len(errors))
        self._keep(errors)
        return LogRecordExportResult.FAILURE

    def _start_retrier(self) -> None:
        with self._spool_lock:
            if self._retrier is None:
                self._retrier = start_thread(self._retry_loop, "lipservice-otlp-retry")

    def _keep(self, errors: list[ReadableLogRecord]) -> None:
        if not errors:
            return
        if self._disk is not None:
            try:
                written = self._disk.put(encode_logs(errors).SerializeToString(), len(errors))
            except Exception:
                written = False
            self._sink.counters.add("errors_spooled" if written else "errors_lost", len(errors))
            self._start_retrier()
            return
        with self._spool_lock:
            room = SPOOL_LIMIT - len(self._spool)
            self._spool.extend(errors[: max(0, room)])
        self._start_retrier()
        lost = len(errors) - max(0, room)
        self._sink.counters.add("errors_spooled", len(errors) - max(0, lost))
        if lost > 0:
            self._sink.counters.add("errors_lost", lost)

    def _retry_loop(self) -> None:
        delay = SPOOL_BACKOFF_SECONDS[0]
        while not self._stopped.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                outcome, retry_after = self._retry_once()
            except Exception:
                self._sink.counters.add("internal_errors")
                outcome, retry_after = "retry", None
            if outcome == "idle":
                delay = SPOOL_BACKOFF_SECONDS[0]
            elif outcome == "retry":
                delay = max(min(SPOOL_BACKOFF_SECONDS[1], delay * 2), retry_after or 0.0)
            else:
                delay = SPOOL_BACKOFF_SECONDS[0]
                self._wake.set()

    def _retry_once(self) -> tuple[str, float | None]:
        """One attempt at the oldest spooled batch: "idle" (nothing waits), "sent", "retry" (with Retry-After)."""
        counters = self._sink.counters
        if self._disk is not None:
            with self._disk.sending() as mine:
                if not mine:
                    return "retry", None
                item = self._disk.oldest()
                if item is None:
                    return "idle", None
                path, payload, count = item
                outcome, retry_after = self._post(payload)
                if outcome == "retry":
                    return outcome, retry_after
                self._disk.remove(path)
            counters.add("exported" if outcome == "ok" else "errors_lost", count)
            if outcome == "ok":
                counters.add("errors_resent", count)
            return "sent", None
        with self._spool_lock:
            batch = [self._spool[i] for i in range(min(len(self._spool), 512))]
        if not batch:
            return "idle", None
        if self._poster is not None:
            outcome, retry_after = self._post(encode_logs(batch).SerializeToString())
        else:
            outcome, retry_after = ("ok" if self._send(batch) else "retry"), None
        if outcome == "retry":
            return outcome, retry_after
        with self._spool_lock:
            for _ in batch:
                self._spool.popleft()
        counters.add("exported" if outcome == "ok" else "errors_lost", len(batch))
        if outcome == "ok":
            counters.add("errors_resent", len(batch))
        return "sent", None

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
        """One last attempt at the memory spool on shutdown; what remains is counted lost (a disk spool stays for
        the next process)."""
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
        spool_dir: Path | None = None,
        spool_max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.endpoint = endpoint
        self.counters = counters
        self._settings = (token, service_name, sdk_version, timeout, max_queue_size, max_export_batch_size)
        self._schedule_delay = schedule_delay
        self._custom_exporter = exporter
        self._spool_dir = spool_dir
        self._spool_max_bytes = spool_max_bytes
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
        # Spool retries go straight over OTLP/HTTP (to read Retry-After) unless the caller supplied the exporter.
        poster = None if self._custom_exporter is not None else OtlpPoster(self.endpoint, token, timeout)
        disk = None
        if self._spool_dir is not None and poster is not None:
            try:
                disk = DiskSpool(self._spool_dir, self._spool_max_bytes, self.counters)
            except OSError:
                _log.warning("lipservice: spool directory %s is not usable; errors wait in memory", self._spool_dir)
        self._processor: LogRecordProcessor = BatchLogRecordProcessor(
            _CountingExporter(exporter, self, poster, disk),
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
