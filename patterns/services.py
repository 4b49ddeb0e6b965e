"""Writes for services and patterns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from lipservice_sdk.severity import normalize_severity
from lipservice_sdk.stats import OVERFLOW_PATTERN

from lipservice.metrics import STATS_INGESTED
from lipservice.models import Team
from patterns.models import Pattern, PatternWindow, Service, StatsBatch
from patterns.sources import SourceRecord

WINDOW_SECONDS = 3600


def service_get_or_create(*, team: Team, name: str, **fields: Any) -> Service:
    service, created = Service.objects.get_or_create(team=team, name=name, defaults=fields)
    if not created:
        changed = [key for key, value in fields.items() if getattr(service, key) != value]
        for key in changed:
            setattr(service, key, fields[key])
        if changed:
            service.save(update_fields=changed)
    return service


def pattern_windows_prune(*, retention_days: int | None = None) -> int:
    """Delete per-window counts older than the retention; returns how many rows went."""
    days = retention_days if retention_days is not None else settings.LIPSERVICE_WINDOW_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = PatternWindow.objects.filter(bucket_start__lt=cutoff).delete()
    return deleted


@dataclass(frozen=True)
class StatsEntry:
    pattern: str
    minute: datetime
    seen: int
    kept: int
    bytes_seen: int
    bytes_kept: int


@dataclass(frozen=True)
class DeliveryLosses:
    """What an SDK counted as not delivered to PostHog since its previous batch, under its counter names."""

    errors_lost: int = 0
    shed_errors: int = 0
    export_failed: int = 0
    shed: int = 0
    spool_corrupt: int = 0


@dataclass(frozen=True)
class StatsIngestResult:
    accepted: int
    duplicate: bool


def _bucket(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def pattern_stats_ingest(
    *,
    service: Service,
    batch_id: str,
    entries: list[StatsEntry],
    sdk: str = "",
    losses: DeliveryLosses | None = None,
) -> StatsIngestResult:
    """Add one SDK batch of per-pattern seen/kept counts to the hourly windows and record its delivery losses, once
    per batch id."""
    losses = losses or DeliveryLosses()
    for attempt in range(3):
        try:
            return _stats_ingest(service=service, batch_id=batch_id, entries=entries, sdk=sdk, losses=losses)
        except IntegrityError:
            # A concurrent batch created one of the same placeholder patterns first; this attempt rolled back.
            if attempt == 2:
                raise
        except OperationalError as exc:
            # The database chose this transaction as a deadlock victim: it rolled back entirely, so retry it.
            if attempt == 2 or getattr(exc.__cause__, "sqlstate", None) != "40P01":
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _stats_ingest(
    *, service: Service, batch_id: str, entries: list[StatsEntry], sdk: str, losses: DeliveryLosses
) -> StatsIngestResult:
    try:
        with transaction.atomic():
            StatsBatch.objects.create(
                service=service, batch_id=batch_id, entries=len(entries), sdk=sdk[:100], **asdict(losses)
            )
    except IntegrityError:
        STATS_INGESTED.labels("duplicate").inc(len(entries))
        return StatsIngestResult(accepted=0, duplicate=True)
    STATS_INGESTED.labels("accepted").inc(len(entries))
    patterns = _patterns_by_id(service=service, ids={entry.pattern for entry in entries})
    totals: dict[tuple[int, datetime], list[int]] = {}
    for entry in entries:
        key = (patterns[entry.pattern].pk, _bucket(entry.minute, WINDOW_SECONDS))
        acc = totals.setdefault(key, [0, 0, 0, 0])
        acc[0] += entry.seen
        acc[1] += entry.kept
        acc[2] += entry.bytes_seen
        acc[3] += entry.bytes_kept
    rows = sorted(
        (pk, bucket, min(seen, BIGINT_MAX), min(kept, BIGINT_MAX), min(sent, BIGINT_MAX), min(held, BIGINT_MAX))
        for (pk, bucket), (seen, kept, sent, held) in totals.items()
    )
    _windows_add(service=service, rows=rows)
    return StatsIngestResult(accepted=len(entries), duplicate=False)


_WINDOW_COLUMNS = (
    "service_id", "pattern_id", "bucket_start", "bucket_seconds", "count", "bytes", "errors",
    "sdk_seen", "sdk_kept", "sdk_bytes_seen", "sdk_bytes_kept",
)  # fmt: skip
_SDK_COLUMNS = ("sdk_seen", "sdk_kept", "sdk_bytes_seen", "sdk_bytes_kept")
BIGINT_MAX = 2**63 - 1


def _windows_add(*, service: Service, rows: list[tuple[int, datetime, int, int, int, int]]) -> None:
    """Add SDK counts to hourly windows in one upsert per chunk (PostgreSQL and SQLite: ON CONFLICT DO UPDATE).

    Rows go in (pattern, bucket) order, so concurrent batches of one service lock windows in the same order and
    cannot deadlock each other."""
    quote = connection.ops.quote_name
    table = quote(PatternWindow._meta.db_table)
    columns = ", ".join(quote(c) for c in _WINDOW_COLUMNS)
    # Sums saturate at the column's maximum instead of overflowing it (which would fail the whole batch).
    updates = ", ".join(
        f"{quote(c)} = CASE WHEN {table}.{quote(c)} > {BIGINT_MAX} - excluded.{quote(c)} THEN {BIGINT_MAX} "
        f"ELSE {table}.{quote(c)} + excluded.{quote(c)} END"
        for c in _SDK_COLUMNS
    )
    placeholders = "(" + ", ".join(["%s"] * len(_WINDOW_COLUMNS)) + ")"
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        params: list[Any] = []
        for pattern_pk, bucket, seen, kept, bytes_seen, bytes_kept in chunk:
            bucket_value = connection.ops.adapt_datetimefield_value(bucket)
            params += [service.pk, pattern_pk, bucket_value, WINDOW_SECONDS, 0, 0, 0]
            params += [seen, kept, bytes_seen, bytes_kept]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(chunk))} "  # noqa: S608
                f"ON CONFLICT ({quote('pattern_id')}, {quote('bucket_start')}, {quote('bucket_seconds')}) "
                f"DO UPDATE SET {updates}",
                params,
            )


PLACEHOLDER_PREFIX = "(unmatched lines"


def _patterns_by_id(*, service: Service, ids: set[str]) -> dict[str, Pattern]:
    """Known patterns by id; ids the SDK made up for lines no policy pattern matched get a placeholder row.

    At most LIPSERVICE_STATS_NEW_PATTERNS_PER_HOUR placeholders are created per service per hour, so an app key
    cannot fill the table with made-up ids; the rest are counted under one overflow pattern."""
    found = {p.pattern_id: p for p in Pattern.objects.filter(service=service, pattern_id__in=ids)}
    missing = sorted(ids - set(found))
    if not missing:
        return found
    # Serialises placeholder creation per service, so concurrent batches cannot both spend the same allowance.
    Service.objects.select_for_update().filter(pk=service.pk).exists()
    found.update({p.pattern_id: p for p in Pattern.objects.filter(service=service, pattern_id__in=missing)})
    missing = [pid for pid in missing if pid not in found]
    created_recently = Pattern.objects.filter(
        service=service, template__startswith=PLACEHOLDER_PREFIX, created_at__gte=timezone.now() - timedelta(hours=1)
    ).count()
    allowed = max(0, settings.LIPSERVICE_STATS_NEW_PATTERNS_PER_HOUR - created_recently)
    admitted, folded = missing[:allowed], missing[allowed:]
    if folded:
        overflow, _ = Pattern.objects.get_or_create(
            service=service,
            pattern_id=OVERFLOW_PATTERN,
            defaults={"template": "(lines of new patterns past the hourly limit, counted together)"},
        )
        found.update(dict.fromkeys(folded, overflow))
    if admitted:
        Pattern.objects.bulk_create(
            [
                Pattern(service=service, pattern_id=pid, template=f"{PLACEHOLDER_PREFIX}, signature {pid})")
                for pid in admitted
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        found.update({p.pattern_id: p for p in Pattern.objects.filter(service=service, pattern_id__in=admitted)})
    return found


def records_from_lines(*, service: str, lines: list[dict[str, str]]) -> list[SourceRecord]:
    """Records from API-posted lines (`message`, optional `severity`, `timestamp`, `trace_id`)."""
    now = timezone.now()
    records = []
    for index, line in enumerate(lines):
        stamp = line.get("timestamp")
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else now
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        records.append(
            SourceRecord(
                uuid=f"api-{index}",
                timestamp=moment,
                body=line["message"],
                severity=normalize_severity(line.get("severity")),
                service=service,
                trace_id=line.get("trace_id") or None,
                bytes=len(line["message"].encode("utf-8", "replace")),
            )
        )
    return records


def pattern_windows_scale(
    *,
    service: Service,
    factor: int,
    analysed: tuple[datetime, datetime] | None,
    replayed: tuple[datetime, datetime] | None,
) -> int:
    """Demo only: multiply the counts of the hours a demo run wrote (analysed: count, bytes, errors; replayed: the SDK
    counts) by `factor`, the production lines each generated line stands for. Each range is scaled once, by the run
    that wrote it, so running the demo again does not compound. Returns how many windows changed."""
    changed = 0
    if factor <= 1:
        return 0
    if analysed is not None:
        start, end = analysed
        changed += PatternWindow.objects.filter(service=service, bucket_start__gte=start, bucket_start__lt=end).update(
            count=F("count") * factor, bytes=F("bytes") * factor, errors=F("errors") * factor
        )
        # Pattern totals follow their windows (they are what the pattern tables rank by).
        totals = (
            PatternWindow.objects.filter(service=service).values("pattern_id").annotate(n=Sum("count"), b=Sum("bytes"))
        )
        for row in totals:
            Pattern.objects.filter(pk=row["pattern_id"]).update(count=row["n"] or 0, bytes=row["b"] or 0)
    if replayed is not None:
        start, end = replayed
        changed += PatternWindow.objects.filter(service=service, bucket_start__gte=start, bucket_start__lt=end).update(
            sdk_seen=F("sdk_seen") * factor,
            sdk_kept=F("sdk_kept") * factor,
            sdk_bytes_seen=F("sdk_bytes_seen") * factor,
            sdk_bytes_kept=F("sdk_bytes_kept") * factor,
        )
    return changed
