"""Analysis runs: read a window of logs, mine them into the service's patterns, and store counts exactly once.

Every write of a run (patterns, hourly windows, miner state, watermark, run status) happens in one transaction
after all reading is done, so a crash or a source failure leaves nothing behind and a re-run counts each line once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from lipservice_sdk.severity import ALWAYS_KEPT

from lipservice.metrics import ANALYSIS_LINES, ANALYSIS_SECONDS
from patterns import connections
from patterns.engine.miner import Miner
from patterns.models import AnalysisRun, Pattern, PatternWindow, Service
from patterns.sources import SourceError, SourceNotSupportedError, SourceRecord

logger = logging.getLogger(__name__)

WINDOW = timedelta(seconds=3600)


class AnalysisConflict(Exception):
    """Another run moved the service's watermark while this one was reading."""


@dataclass
class _Counts:
    lines: int = 0
    bytes: int = 0
    errors: int = 0


@dataclass
class _Accumulator:
    """Counts per (template key, hour) while reading; mapped onto pattern ids once the miner has run."""

    by_key_bucket: dict[tuple[str, datetime], _Counts] = field(default_factory=dict)
    lines: int = 0
    bytes: int = 0

    def add(self, key: str, moment: datetime, *, lines: int, size: int, errors: int) -> None:
        counts = self.by_key_bucket.get((key, bucket_of(moment)))
        if counts is None:
            counts = self.by_key_bucket[(key, bucket_of(moment))] = _Counts()
        counts.lines += lines
        counts.bytes += size
        counts.errors += errors
        self.lines += lines
        self.bytes += size


def bucket_of(moment: datetime) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % int(WINDOW.total_seconds()), tz=UTC)


def floor_hour(moment: datetime) -> datetime:
    return bucket_of(moment)


def miner_state_for_storage(miner: Miner) -> dict[str, Any]:
    """The miner's state as stored: its keys and examples are already redacted; with LIPSERVICE_STORE_EXAMPLES off,
    no example line is kept at all."""
    state = miner.to_dict()
    if not settings.LIPSERVICE_STORE_EXAMPLES:
        for row in state["patterns"]:
            row["examples"] = []
        for row in state["keys"]:
            row["example"] = None
    return state


def load_miner(service: Service) -> Miner:
    return Miner.from_dict(service.miner_state) if service.miner_state else Miner()


def analysis_window_due(
    *, service: Service, now: datetime | None = None, max_hours: int | None = None
) -> tuple[datetime, datetime] | None:
    """The next window to analyse: from the watermark (or the lookback) to the last complete hour, capped."""
    end = floor_hour(now or timezone.now())
    start = service.analysis_watermark or end - timedelta(hours=settings.LIPSERVICE_ANALYSIS_LOOKBACK_HOURS)
    end = min(end, start + timedelta(hours=max_hours or settings.LIPSERVICE_ANALYSIS_MAX_HOURS_PER_RUN))
    return (start, end) if end > start else None


def analysis_run_create(
    *, service: Service, start: datetime | None, end: datetime | None, method: str, source_kind: str = ""
) -> AnalysisRun:
    return AnalysisRun.objects.create(
        service=service,
        window_start=start,
        window_end=end,
        method=method,
        source_kind=source_kind or service.source_kind,
    )


def analysis_run_enqueue(*, run_id: int, send: Callable[[], object]) -> bool:
    """Hand a run to the job queue; when the broker cannot take it, fail the run with the reason and return False,
    so that it does not wait as pending for a task that was never queued."""
    try:
        send()
    except (BrokerError, OSError) as exc:
        logger.warning("analysis run %s not queued: %s", run_id, exc)
        AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.PENDING).update(
            status=AnalysisRun.Status.FAILED,
            error=f"not queued, the job queue is unreachable: {type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return False
    return True


def analysis_execute(*, run_id: int) -> AnalysisRun:
    """Run a windowed analysis from the service's own source (fetching lines, or pushing counting down)."""
    run = AnalysisRun.objects.select_related("service__team").get(pk=run_id)
    service = run.service
    assert run.window_start is not None and run.window_end is not None
    start, end = run.window_start, run.window_end

    def read(miner: Miner, acc: _Accumulator) -> None:
        source = connections.source_for_service(service)
        try:
            if run.method == "pushdown":
                _read_pushdown(source, service=service, start=start, end=end, miner=miner, acc=acc)
            else:
                _read_records(source.fetch_logs(service=service.name, start=start, end=end), miner=miner, acc=acc)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()

    return _execute(run, read, advance_watermark=True)


def analysis_execute_records(*, run_id: int, records: Iterable[SourceRecord], unparsed: int = 0) -> AnalysisRun:
    """Run an analysis over records given directly (a file passed to `analyze_logs`, lines posted to the API)."""
    run = AnalysisRun.objects.select_related("service__team").get(pk=run_id)

    def read(miner: Miner, acc: _Accumulator) -> None:
        _read_records(records, miner=miner, acc=acc)

    return _execute(run, read, advance_watermark=False, unparsed=unparsed)


def _read_records(records: Iterable[SourceRecord], *, miner: Miner, acc: _Accumulator) -> None:
    for record in records:
        size = record.bytes or len(record.body.encode("utf-8", "replace"))
        key = miner.add(record.body, severity=record.severity, timestamp=record.timestamp.timestamp(), size=size)
        acc.add(key, record.timestamp, lines=1, size=size, errors=int(record.severity in ALWAYS_KEPT))


def _read_pushdown(
    source: Any, *, service: Service, start: datetime, end: datetime, miner: Miner, acc: _Accumulator
) -> None:
    """Count per masked key inside the backend hour by hour, so only distinct keys travel."""
    cursor = start
    while cursor < end:
        hour_end = min(end, cursor + WINDOW)
        for row in source.count_template_keys(service=service.name, start=cursor, end=hour_end):
            miner.add_key_counts(
                row.key,
                row.count,
                row.bytes,
                first_seen=row.first_seen.timestamp(),
                last_seen=row.last_seen.timestamp(),
                severities=dict(row.severities),
                example=row.example,
            )
            errors = sum(n for name, n in row.severities.items() if name in ALWAYS_KEPT)
            acc.add(row.key, cursor, lines=row.count, size=row.bytes, errors=errors)
        cursor = hour_end


def _execute(run: AnalysisRun, read: Any, *, advance_watermark: bool, unparsed: int = 0) -> AnalysisRun:
    service = run.service
    watermark_at_start = service.analysis_watermark
    run.status = AnalysisRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        miner = load_miner(service)
        known = {p.id for p in miner.patterns()}
        acc = _Accumulator()
        read(miner, acc)
        timings["read_seconds"] = round(time.perf_counter() - started, 3)
        mined = time.perf_counter()
        miner.mine()
        timings["mine_seconds"] = round(time.perf_counter() - mined, 3)
        stored = time.perf_counter()
        patterns = miner.patterns()
        with transaction.atomic():
            locked = Service.objects.select_for_update().get(pk=service.pk)
            if advance_watermark and locked.analysis_watermark != watermark_at_start:
                raise AnalysisConflict("another analysis of this service finished first; this window was skipped")
            rows = _store_patterns(service, patterns)
            _store_windows(service, miner, acc, rows)
            locked.miner_state = miner_state_for_storage(miner)
            fields = ["miner_state"]
            if advance_watermark and run.window_end is not None:
                locked.analysis_watermark = run.window_end
                fields.append("analysis_watermark")
            locked.save(update_fields=fields)
            timings["store_seconds"] = round(time.perf_counter() - stored, 3)
            timings["total_seconds"] = round(time.perf_counter() - started, 3)
            if acc.lines:
                timings["lines_per_second"] = round(acc.lines / max(timings["read_seconds"], 1e-6))
            run.status = AnalysisRun.Status.SUCCEEDED
            run.lines_read = acc.lines
            run.bytes_read = acc.bytes
            run.unparsed_lines = unparsed
            run.patterns_total = len(patterns)
            run.patterns_new = len({p.id for p in patterns} - known)
            run.timings = timings
            run.finished_at = timezone.now()
            run.error = ""
            run.save()
        ANALYSIS_LINES.labels(run.method or "records").inc(acc.lines)
        ANALYSIS_SECONDS.labels("succeeded").observe(time.perf_counter() - started)
    except (SourceError, AnalysisConflict, ValueError, OSError) as exc:
        _fail(run, exc, timings, started)
    except Exception as exc:
        _fail(run, exc, timings, started)
        raise
    return run


def _fail(run: AnalysisRun, exc: BaseException, timings: dict[str, float], started: float) -> None:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, SourceNotSupportedError):
        reason = f"not available on this source: {reason}"
    logger.warning("analysis run %s of %s failed: %s", run.pk, run.service, reason)
    timings["total_seconds"] = round(time.perf_counter() - started, 3)
    ANALYSIS_SECONDS.labels("failed").observe(timings["total_seconds"])
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=AnalysisRun.Status.FAILED,
        error=f"{type(exc).__name__}: {reason}"[:2000],
        timings=timings,
        finished_at=timezone.now(),
    )
    run.refresh_from_db()


def _aware(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def _store_patterns(service: Service, patterns: list[Any]) -> dict[str, Pattern]:
    existing = {p.pattern_id: p for p in Pattern.objects.filter(service=service)}
    to_create: list[Pattern] = []
    to_update: list[Pattern] = []
    for mined in patterns:
        row = existing.get(mined.id) or Pattern(service=service, pattern_id=mined.id)
        row.template = mined.template
        row.signatures = list(mined.signatures)
        row.count = mined.count
        row.bytes = mined.bytes
        row.severity_counts = dict(mined.severities)
        row.examples = list(mined.examples) if settings.LIPSERVICE_STORE_EXAMPLES else []
        row.first_seen = _aware(mined.first_seen)
        row.last_seen = _aware(mined.last_seen)
        (to_update if row.pk else to_create).append(row)
    Pattern.objects.bulk_create(to_create, batch_size=500)
    Pattern.objects.bulk_update(
        to_update,
        ["template", "signatures", "count", "bytes", "severity_counts", "examples", "first_seen", "last_seen"],
        batch_size=500,
    )
    return {p.pattern_id: p for p in Pattern.objects.filter(service=service)}


def _store_windows(service: Service, miner: Miner, acc: _Accumulator, rows: dict[str, Pattern]) -> None:
    per_window: dict[tuple[str, datetime], _Counts] = {}
    for (key, bucket), counts in acc.by_key_bucket.items():
        pattern_id = miner.pattern_of_key(key) or miner.match_key(key)
        if pattern_id is None:
            continue
        total = per_window.setdefault((pattern_id, bucket), _Counts())
        total.lines += counts.lines
        total.bytes += counts.bytes
        total.errors += counts.errors
    seconds = int(WINDOW.total_seconds())
    existing = {
        (w.pattern_id, w.bucket_start): w.pk
        for w in PatternWindow.objects.filter(
            service=service, bucket_seconds=seconds, bucket_start__in={bucket for _, bucket in per_window}
        ).only("pk", "pattern_id", "bucket_start")
    }
    new = []
    for (pattern_id, bucket), counts in per_window.items():
        pattern = rows[pattern_id]
        pk = existing.get((pattern.pk, bucket))
        if pk is None:
            new.append(
                PatternWindow(
                    service=service,
                    pattern=pattern,
                    bucket_start=bucket,
                    bucket_seconds=seconds,
                    count=counts.lines,
                    bytes=counts.bytes,
                    errors=counts.errors,
                )
            )
        else:
            PatternWindow.objects.filter(pk=pk).update(
                count=F("count") + counts.lines, bytes=F("bytes") + counts.bytes, errors=F("errors") + counts.errors
            )
    PatternWindow.objects.bulk_create(new, batch_size=1000)


def iter_windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    cursor = start
    while cursor < end:
        yield cursor, min(end, cursor + WINDOW)
        cursor += WINDOW
