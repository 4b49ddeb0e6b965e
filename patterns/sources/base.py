"""The LogSource contract: records, volume buckets, template-key counts and the errors every source raises."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from lipservice_sdk.severity import read_severity

from patterns.sources.masking import template_key_of

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class SourceRecord:
    uuid: str
    timestamp: datetime
    body: str
    severity: str
    service: str
    trace_id: str | None = None
    span_id: str | None = None
    attributes: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)
    resource_attributes: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)
    bytes: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class VolumeBucket:
    start: datetime
    lines: int
    bytes: int


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateKeyCount:
    key: str
    count: int
    bytes: int
    severities: Mapping[str, int]
    first_seen: datetime
    last_seen: datetime
    example: str


@runtime_checkable
class LogSource(Protocol):
    """One door to one log store; times are UTC-aware, ranges are [start, end), service=None means every service."""

    def fetch_logs(
        self,
        *,
        service: str | None,
        start: datetime,
        end: datetime,
        severities: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[SourceRecord]: ...

    def log_volume(
        self, *, service: str | None, start: datetime, end: datetime, bucket: timedelta
    ) -> list[VolumeBucket]: ...

    def count_template_keys(self, *, service: str | None, start: datetime, end: datetime) -> list[TemplateKeyCount]: ...


class SourceError(Exception):
    """Base of every error a source raises; `rows_delivered` tells a caller how much it already received."""

    def __init__(self, message: str, *, rows_delivered: int = 0) -> None:
        super().__init__(message)
        self.rows_delivered = rows_delivered


class SourceConfigError(SourceError):
    pass


class SourceAuthError(SourceError):
    """Credentials rejected or missing a scope; `scope` names what to grant when it is known."""

    def __init__(self, message: str, *, scope: str | None = None, rows_delivered: int = 0) -> None:
        super().__init__(message, rows_delivered=rows_delivered)
        self.scope = scope


class SourceUnavailableError(SourceError):
    """The backend could not be reached or kept failing after bounded retries."""


class SourceRateLimitedError(SourceUnavailableError):
    pass


class SourceQueryError(SourceError):
    """The backend refused or failed the query itself (bad query, timeout, too many rows)."""


class SourceFormatError(SourceError):
    pass


class SourceNotSupportedError(SourceError):
    """A feature this backend or instance does not offer (product disabled, feature flag off)."""


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_range(*, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start_utc, end_utc = as_utc(start), as_utc(end)
    if end_utc <= start_utc:
        raise SourceConfigError(
            f"empty time range: start {start_utc.isoformat()} is not before end {end_utc.isoformat()}"
        )
    return start_utc, end_utc


def severity_of(text: str | None, number: int | None = None) -> str:
    """lipservice_sdk.severity's reading: an error number wins over any text, a known text over a lower number."""
    return read_severity(text, number)


def bucket_start(*, moment: datetime, origin: datetime, bucket: timedelta) -> datetime:
    steps = (as_utc(moment) - origin) // bucket
    return origin + steps * bucket


def volume_from_records(
    records: Iterable[SourceRecord], *, start: datetime, end: datetime, bucket: timedelta
) -> list[VolumeBucket]:
    """Buckets aligned on multiples of `bucket` since the epoch, matching ClickHouse's toStartOfInterval."""
    if bucket <= timedelta(0):
        raise SourceConfigError("bucket must be positive")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    lines: dict[datetime, int] = {}
    sizes: dict[datetime, int] = {}
    for record in records:
        key = bucket_start(moment=record.timestamp, origin=epoch, bucket=bucket)
        lines[key] = lines.get(key, 0) + 1
        sizes[key] = sizes.get(key, 0) + record.bytes
    return [VolumeBucket(start=key, lines=lines[key], bytes=sizes[key]) for key in sorted(lines)]


def template_keys_from_records(records: Iterable[SourceRecord]) -> list[TemplateKeyCount]:
    """The fallback for backends that cannot push down: same fields as the SQL version, most frequent first."""
    acc: dict[str, _KeyAccumulator] = {}
    for record in records:
        key = template_key_of(record.body)
        entry = acc.get(key)
        if entry is None:
            acc[key] = _KeyAccumulator(record)
        else:
            entry.add(record)
    counts = [entry.result(key) for key, entry in acc.items()]
    counts.sort(key=lambda c: (-c.count, c.key))
    return counts


class _KeyAccumulator:
    __slots__ = ("bytes", "count", "example", "first", "last", "severities")

    def __init__(self, record: SourceRecord) -> None:
        self.count = 1
        self.bytes = record.bytes
        self.severities = {record.severity: 1}
        self.first = record.timestamp
        self.last = record.timestamp
        self.example = record.body

    def add(self, record: SourceRecord) -> None:
        self.count += 1
        self.bytes += record.bytes
        self.severities[record.severity] = self.severities.get(record.severity, 0) + 1
        if record.timestamp < self.first:
            self.first = record.timestamp
        if record.timestamp > self.last:
            self.last = record.timestamp

    def result(self, key: str) -> TemplateKeyCount:
        return TemplateKeyCount(
            key=key,
            count=self.count,
            bytes=self.bytes,
            severities=MappingProxyType(dict(self.severities)),
            first_seen=self.first,
            last_seen=self.last,
            example=self.example,
        )


def merge_severities(pairs: Iterable[tuple[str, int]]) -> Mapping[str, int]:
    merged: dict[str, int] = {}
    for raw, count in pairs:
        name = severity_of(raw)
        merged[name] = merged.get(name, 0) + int(count)
    return MappingProxyType(merged)
