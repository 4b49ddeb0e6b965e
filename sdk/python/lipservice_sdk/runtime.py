"""configure_adaptive_logging and its handle: one decision per line, then stats, error context and export."""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipservice_sdk import _fork
from lipservice_sdk.buffer import ErrorContextBuffer
from lipservice_sdk.client import LipServiceClient
from lipservice_sdk.config import DEFAULT_POSTHOG_HOST, AdaptiveConfig
from lipservice_sdk.counters import Counters
from lipservice_sdk.decision import PATTERN_ATTRIBUTE, RATE_ATTRIBUTE, Decider, Decision
from lipservice_sdk.events import AttributeValue, LogEvent, hex_id
from lipservice_sdk.policy import PolicyDocument, PolicyFormatError, policy_from_dict, policy_from_json
from lipservice_sdk.policy_source import PolicyCache, PolicyPoller
from lipservice_sdk.severity import ALWAYS_KEPT
from lipservice_sdk.stats import StatsAggregator, StatsReporter, message_size

if TYPE_CHECKING:
    from opentelemetry.sdk._logs.export import LogRecordExporter

    from lipservice_sdk.exporter import OtlpSink, OutRecord
    from lipservice_sdk.logging_integration import Installation

_log = logging.getLogger("lipservice_sdk")
SDK_NAME = "lipservice-sdk"
FALLBACK_PATTERN = "lipservice:unknown"
SDK_ERROR = "sdk_error"
CONTEXT_ATTRIBUTE = "lipservice.error_context"

PolicySource = PolicyDocument | Mapping[str, Any] | str | os.PathLike[str]


def _sdk_version() -> str:
    from lipservice_sdk import __version__

    return __version__


def load_policy(source: PolicySource | None) -> PolicyDocument | None:
    """A policy from a document, a dict, or a path to a `lipservice.policy/v1` JSON file (optional fields defaulted)."""
    if source is None or isinstance(source, PolicyDocument):
        return source
    if isinstance(source, Mapping):
        return policy_from_dict(dict(source))
    return policy_from_json(Path(source).read_bytes())


class AdaptiveLogging:
    """The handle returned by configure_adaptive_logging. Integrations call `decide` and `record`; neither raises."""

    def __init__(
        self,
        config: AdaptiveConfig,
        *,
        policy: PolicySource | None = None,
        exporter: LogRecordExporter | None = None,
    ) -> None:
        self.config = config
        self.counters = Counters()
        self._lock = threading.Lock()
        self._closed = False
        self._installation: Installation | None = None
        self._rng_seed = config.seed
        self.policy_etag = ""
        initial = self._initial_policy(policy)
        self.decider = self._new_decider(initial)
        context = initial.error_context if initial is not None else None
        self._buffer: ErrorContextBuffer[tuple[LogEvent, Decision]] = ErrorContextBuffer(
            counters=self.counters,
            lines_per_trace=context.lines_per_trace if context else 0,
            seconds=context.seconds if context else 0.0,
            max_lines=config.max_context_lines,
        )
        self._sink: OtlpSink | None = None
        if config.exporting or exporter is not None:
            from lipservice_sdk.exporter import OtlpSink, posthog_logs_endpoint

            self._sink = OtlpSink(
                endpoint=posthog_logs_endpoint(config.posthog_host),
                token=config.posthog_token or "",
                service_name=config.service_name,
                counters=self.counters,
                sdk_version=_sdk_version(),
                timeout=config.export_timeout,
                max_queue_size=config.max_queue_size,
                max_export_batch_size=config.export_batch_size,
                schedule_delay=config.export_delay,
                exporter=exporter,
                spool_dir=config.spool_dir,
                spool_max_bytes=config.spool_max_bytes,
            )
        # Every line is counted here; per pattern and minute only when there is a LipService to report to.
        self.tally = StatsAggregator(
            max_keys=config.max_stat_keys, counters=self.counters, per_pattern=config.lipservice_url is not None
        )
        self._reporter: StatsReporter | None = None
        self._poller: PolicyPoller | None = None
        if config.lipservice_url is not None:
            client = LipServiceClient(
                base_url=config.lipservice_url,
                api_key=config.api_key,
                user_agent=f"{SDK_NAME}/{_sdk_version()}",
                timeout=config.request_timeout,
            )
            self._reporter = StatsReporter(
                client=client,
                aggregator=self.tally,
                counters=self.counters,
                service=config.service_name,
                sdk={"name": SDK_NAME, "version": _sdk_version()},
                interval=config.stats_interval,
                max_pending_entries=config.max_pending_stats,
            )
            self._poller = PolicyPoller(
                client=client,
                service=config.service_name,
                apply=self.apply_policy,
                counters=self.counters,
                cache=self._cache,
                interval=config.refresh_interval,
                etag=self.policy_etag,
            )
        _fork.register(self)

    def _initial_policy(self, explicit: PolicySource | None) -> PolicyDocument | None:
        """The disk cache of the last fetched policy wins over an explicit one; with neither, keep everything."""
        self._cache: PolicyCache | None = None
        if self.config.lipservice_url is not None:
            self._cache = PolicyCache(
                self.config.resolved_cache_dir(), service=self.config.service_name, source=self.config.lipservice_url
            )
            cached = self._cache.load()
            if cached is not None:
                self.policy_etag = cached[1]
                return cached[0]
        try:
            return load_policy(explicit)
        except (OSError, ValueError, PolicyFormatError) as exc:
            self.counters.add("policy_errors")
            _log.warning("lipservice: ignoring the policy given to configure_adaptive_logging: %s", exc)
            return None

    def _new_decider(self, policy: PolicyDocument | None) -> Decider:
        rng = random.Random(self._rng_seed) if self._rng_seed is not None else None
        return Decider(policy, rng=rng)

    def start(self) -> None:
        if self._poller is not None:
            self._poller.start()
        if self._reporter is not None:
            self._reporter.start()

    @property
    def service_name(self) -> str:
        return self.config.service_name

    @property
    def policy(self) -> PolicyDocument | None:
        return self.decider.policy

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def exporting(self) -> bool:
        """Kept lines are sent to PostHog from here (else they only continue to the application's handlers)."""
        return self._sink is not None and not self._closed

    @property
    def holds_context(self) -> bool:
        """Dropped lines in a trace are held for error context."""
        policy = self.decider.policy
        return self._sink is not None and policy is not None and policy.error_context.enabled

    def set_policy(self, policy: PolicySource | None) -> None:
        """Replace the policy by hand (the poller will replace it again when the server has a new one)."""
        document = load_policy(policy)
        self.apply_policy(document, document.etag if document else "")

    def apply_policy(self, document: PolicyDocument | None, etag: str) -> None:
        self.decider.set_policy(document)
        self.policy_etag = etag
        if document is not None and document.error_context.enabled:
            self._buffer.configure(
                lines_per_trace=document.error_context.lines_per_trace, seconds=document.error_context.seconds
            )
        else:
            self.counters.add("context_expired", self._buffer.clear())

    def note_internal_error(self) -> None:
        with contextlib.suppress(Exception):  # the last line of defence must not raise either
            self.counters.add("internal_errors")

    def decide(self, event: LogEvent) -> Decision:
        """The policy's decision for a line; on any internal failure, keep it."""
        try:
            decision = self.decider.decide(
                message=event.message,
                severity=event.level,
                timestamp=event.timestamp,
                trace_id=event.trace_id,
                attributes=event.attributes,
            )
            if not decision.keep and event.level in ALWAYS_KEPT:
                return replace(decision, keep=True, rate=1.0)
            return decision
        except Exception:
            return self.decision_failed()

    def decision_failed(self) -> Decision:
        """What an integration uses when deciding raised: keep the line, and count the failure."""
        self.note_internal_error()
        _log.debug("lipservice: decision failed, keeping the line", exc_info=True)
        return Decision(True, 1.0, FALLBACK_PATTERN, SDK_ERROR)

    def record(self, event: LogEvent, decision: Decision, *, export: bool = True) -> None:
        """Count the line, and send it (kept) or hold it for error context (dropped, traced). Never raises."""
        try:
            self._record(event, decision, export)
        except Exception:
            self.note_internal_error()
            _log.debug("lipservice: recording a line failed", exc_info=True)

    def count(self, message: str, timestamp: float, decision: Decision) -> None:
        """Count one line seen (and kept or dropped): the process counters and, when reporting, its pattern's minute."""
        self.tally.add_line(decision.pattern_id, timestamp, decision.keep, message)

    def _record(self, event: LogEvent, decision: Decision, export: bool) -> None:
        self.count(event.message, event.timestamp, decision)
        if export:
            self.forward(event, decision)

    def forward(self, event: LogEvent, decision: Decision) -> None:
        """After counting: export a kept line (releasing its trace's held context first if it is an error), or hold
        a dropped one for error context."""
        counters = self.counters
        sink = self._sink
        if sink is None or self._closed:
            return
        now = time.monotonic()
        if not decision.keep:
            policy = self.decider.policy
            if event.trace_id and policy is not None and policy.error_context.enabled:
                self._buffer.hold(event.trace_id, (event, decision), now, size=_footprint(event))
            return
        if event.level in ALWAYS_KEPT and event.trace_id and len(self._buffer):
            for held_event, held_decision in self._buffer.release(event.trace_id, now):
                if sink.emit(self._out(held_event, held_decision, context=True)):
                    counters.add("context_flushed")
                    self.tally.add(held_decision.pattern_id, held_event.timestamp, seen=0, kept=1,
                                   size=message_size(held_event.message))  # fmt: skip
        sink.emit(self._out(event, decision))

    def _out(self, event: LogEvent, decision: Decision, *, context: bool = False) -> OutRecord:
        from lipservice_sdk.exporter import OutRecord

        source = event.attributes
        copy = getattr(source, "copy", None)  # dict and RecordAttributes copy themselves without a key-by-key walk
        attributes: dict[str, AttributeValue] = copy() if copy is not None else dict(source)
        attributes[RATE_ATTRIBUTE] = decision.rate
        attributes[PATTERN_ATTRIBUTE] = decision.pattern_id
        if context:
            attributes[CONTEXT_ATTRIBUTE] = True
        return OutRecord(
            event.message,
            event.level,
            event.severity_number,
            int(event.timestamp * 1e9),
            attributes,
            hex_id(event.trace_id, bits=128) if event.trace_id else 0,
            hex_id(event.span_id, bits=64) if event.span_id else 0,
            0,
            event.level in ALWAYS_KEPT,
        )

    def stats(self) -> dict[str, int]:
        """Counters since start (or since fork, in a child) plus current gauges."""
        values = self.counters.snapshot()
        try:
            self._buffer.expire(time.monotonic())
            policy = self.decider.policy
            values["policy_version"] = int(policy.version) if policy is not None else -1
        except Exception:
            values["policy_version"] = -1
        values["context_buffered"] = len(self._buffer)
        values["stats_pending_batches"] = len(self._reporter.pending_batches()) if self._reporter else 0
        return values

    def flush(self, timeout: float = 5.0) -> bool:
        """Send what is queued (logs and stats) now, waiting at most `timeout` seconds; True when all went out."""
        try:
            self._buffer.expire(time.monotonic())
            jobs: list[Callable[[], object]] = []
            if self._sink is not None:
                sink = self._sink
                jobs.append(lambda: sink.flush(timeout))
            if self._reporter is not None:
                reporter = self._reporter
                jobs.append(lambda: reporter.flush(timeout))
            return _run_parallel(jobs, timeout)
        except Exception:
            self.note_internal_error()
            return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the threads, send what is left within `timeout`, and detach from logging. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self._installation is not None:
                self._installation.uninstall()
                self._installation = None
            if self._poller is not None:
                self._poller.stop(min(timeout, 0.2))
            self.counters.add("context_expired", self._buffer.clear())
            deadline = time.monotonic() + timeout
            if self._sink is not None:
                # The export stops first, so that what it loses on the way out (errors still waiting in the memory
                # spool) is counted before the last stats batch, which reports it; the rest of the time is the stats'.
                reserve = min(timeout / 2, self.config.request_timeout) if self._reporter is not None else 0.0
                self._sink.shutdown(timeout - reserve)
            if self._reporter is not None:
                self._reporter.stop(max(0.0, deadline - time.monotonic()))
        except Exception:
            self.note_internal_error()
            _log.debug("lipservice: shutdown failed", exc_info=True)
        finally:
            _fork.unregister(self)

    def after_fork_in_child(self) -> None:
        if self._closed:
            return
        self._lock = threading.Lock()
        self.counters.reset_after_fork()
        self.decider = self._new_decider(self.decider.policy)
        self._buffer.reset_after_fork()
        self.tally.reset_after_fork()
        if self._sink is not None:
            self._sink.after_fork_in_child()
        if self._poller is not None:
            self._poller.after_fork_in_child()
        if self._reporter is not None:
            self._reporter.after_fork_in_child()


def _footprint(event: LogEvent) -> int:
    """A rough size in bytes of a held line, for the error-context byte cap."""
    rough_size = getattr(event.attributes, "rough_size", None)
    if rough_size is not None:
        return 200 + len(event.message) + int(rough_size())
    attributes = sum(len(k) + (len(v) if isinstance(v, str) else 8) for k, v in event.attributes.items())
    return 200 + len(event.message) + attributes


def _run_parallel(jobs: list[Callable[[], object]], timeout: float) -> bool:
    """Run each job on its own daemon thread and wait for all, together at most `timeout` seconds."""
    results: list[bool] = []

    def run(job: Callable[[], object]) -> None:
        try:
            results.append(bool(job()))
        except Exception:
            results.append(False)

    threads = [_fork.start_thread(functools.partial(run, job), "lipservice-flush") for job in jobs]
    deadline = time.monotonic() + max(0.0, timeout)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(results) == len(jobs) and all(results)


_active: AdaptiveLogging | None = None
_configure_lock = threading.Lock()


def _reset_configure_lock() -> None:
    global _configure_lock
    _configure_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_configure_lock)


def active() -> AdaptiveLogging | None:
    """The handle of the last configure_adaptive_logging call, unless it was shut down."""
    handle = _active
    return handle if handle is not None and not handle.closed else None


def configure_adaptive_logging(
    service_name: str,
    *,
    lipservice_url: str | None = None,
    api_key: str | None = None,
    posthog_token: str | None = None,
    posthog_host: str = DEFAULT_POSTHOG_HOST,
    policy: PolicySource | None = None,
    logger: logging.Logger | str | Sequence[logging.Logger | str | None] | None = None,
    install_logging: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    refresh_interval: float = 60.0,
    stats_interval: float = 30.0,
    request_timeout: float = 5.0,
    export_timeout: float = 10.0,
    max_queue_size: int = 2048,
    export_batch_size: int = 512,
    export_delay: float = 1.0,
    max_context_lines: int = 10_000,
    max_stat_keys: int = 20_000,
    max_pending_stats: int = 50_000,
    exit_timeout: float = 3.0,
    seed: int | None = None,
    exporter: LogRecordExporter | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int = 64 * 1024 * 1024,
) -> AdaptiveLogging:
    """Start adaptive sampling for this process, replacing any earlier configuration.

    Offline (no lipservice_url, no posthog_token): `policy` decides and kept lines go on to the logger's own
    handlers. With lipservice_url the policy is fetched (cached on disk) and stats are posted; with posthog_token
    kept lines are also sent to PostHog over OTLP; errors PostHog does not take wait in memory, or in `spool_dir`
    (at most `spool_max_bytes`) where the next process with the same directory sends them if this one cannot.
    Raises ValueError only for invalid arguments.
    """
    global _active
    config = AdaptiveConfig(
        service_name=service_name,
        lipservice_url=lipservice_url,
        api_key=api_key,
        posthog_token=posthog_token,
        posthog_host=posthog_host,
        cache_dir=Path(os.fspath(cache_dir)) if cache_dir is not None else None,
        refresh_interval=refresh_interval,
        stats_interval=stats_interval,
        request_timeout=request_timeout,
        export_timeout=export_timeout,
        max_queue_size=max_queue_size,
        export_batch_size=export_batch_size,
        export_delay=export_delay,
        max_context_lines=max_context_lines,
        max_stat_keys=max_stat_keys,
        max_pending_stats=max_pending_stats,
        exit_timeout=exit_timeout,
        seed=seed,
        spool_dir=Path(os.fspath(spool_dir)) if spool_dir is not None else None,
        spool_max_bytes=spool_max_bytes,
    )
    with _configure_lock:
        previous = _active
        if previous is not None:
            previous.shutdown(min(exit_timeout, 2.0))
        handle = AdaptiveLogging(config, policy=policy, exporter=exporter)
        if install_logging:
            from lipservice_sdk.logging_integration import install

            handle._installation = install(handle, logger)
        handle.start()
        _active = handle
        return handle


def _shutdown_at_exit() -> None:
    handle = _active
    if handle is not None:
        handle.shutdown(handle.config.exit_timeout)


atexit.register(_shutdown_at_exit)
