"""The PostHog log source: rows through the Logs API, volume and template keys pushed down as HogQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from patterns.sources.base import (
    SourceConfigError,
    SourceError,
    SourceQueryError,
    SourceRecord,
    SourceUnavailableError,
    TemplateKeyCount,
    VolumeBucket,
    as_utc,
    check_range,
    merge_severities,
    severity_of,
)
from patterns.sources.masking import hogql_key_expression
from patterns.sources.posthog_client import MAX_HOGQL_ROWS, PostHogClient, PostHogConfig, date_range

logger = logging.getLogger(__name__)

_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class PostHogLogSource:
    """LogSource over the Logs API (rows) and HogQL (volume, template keys pushed down as GROUP BY)."""

    def __init__(self, client: PostHogClient) -> None:
        self.client = client

    @classmethod
    def from_config(cls, config: PostHogConfig) -> PostHogLogSource:
        return cls(PostHogClient(config))

    def close(self) -> None:
        self.client.close()

    def fetch_logs(
        self,
        *,
        service: str | None,
        start: datetime,
        end: datetime,
        severities: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[SourceRecord]:
        start_utc, end_utc = check_range(start=start, end=end)
        wanted = sorted({severity_of(s) for s in severities}) if severities is not None else None
        query: dict[str, Any] = {
            "dateRange": date_range(start_utc, end_utc),
            "serviceNames": [service] if service is not None else [],
            "orderBy": "earliest",
            "limit": self.client.config.page_size,
        }
        if wanted is not None:
            query["severityLevels"] = [s.lower() for s in wanted]
        delivered = 0
        seen_cursors: set[str] = set()
        # PostHog's cursor is inclusive of its timestamp; rows at the boundary may come back once more.
        boundary: set[str] = set()
        while True:
            try:
                page = self.client.logs_query(query=query)
            except SourceError as exc:
                exc.rows_delivered = delivered
                raise
            rows = page.get("results") or []
            page_uuids: set[str] = set()
            for row in rows:
                record = _record_from_api(row, default_service=service)
                page_uuids.add(record.uuid)
                if record.uuid in boundary or not start_utc <= record.timestamp < end_utc:
                    continue
                if wanted is not None and record.severity not in wanted:
                    continue
                yield record
                delivered += 1
                if limit is not None and delivered >= limit:
                    return
            boundary = page_uuids
            cursor = page.get("nextCursor")
            if not page.get("hasMore") or not rows:
                return
            if not cursor or cursor in seen_cursors:
                raise SourceQueryError("PostHog said hasMore but gave no new nextCursor", rows_delivered=delivered)
            seen_cursors.add(cursor)
            query["after"] = cursor

    def log_volume(
        self, *, service: str | None, start: datetime, end: datetime, bucket: timedelta
    ) -> list[VolumeBucket]:
        start_utc, end_utc = check_range(start=start, end=end)
        seconds = int(bucket.total_seconds())
        if seconds < 1 or bucket != timedelta(seconds=seconds):
            raise SourceConfigError("bucket must be a whole number of seconds")
        where, values = _hogql_scope(service=service, start=start_utc, end=end_utc)
        values["bucket"] = seconds
        result = self.client.hogql(
            query="SELECT intDiv(toUnixTimestamp(timestamp), {bucket}) * {bucket} AS bucket_start, count() AS lines,"  # noqa: S608 - values are parameters
            f" sum(length(body)) AS size FROM logs WHERE {where}"
            f" GROUP BY bucket_start ORDER BY bucket_start LIMIT {MAX_HOGQL_ROWS}",
            values=values,
        )
        return [
            VolumeBucket(start=datetime.fromtimestamp(int(b), tz=UTC), lines=int(n), bytes=int(s or 0))
            for b, n, s in result.rows
        ]

    def count_template_keys(self, *, service: str | None, start: datetime, end: datetime) -> list[TemplateKeyCount]:
        """GROUP BY the masked body in HogQL, one window at a time; bytes are length(body) (HogQL has no billing size).

        PostHog caps API HogQL queries at a few seconds, so the range is cut into `pushdown_window` slices and a slice
        that times out is halved until `min_pushdown_window`; per-window keys are merged here.
        """
        start_utc, end_utc = check_range(start=start, end=end)
        config = self.client.config
        merged: dict[str, _Merged] = {}
        pending = list(reversed(_windows(start_utc, end_utc, config.pushdown_window)))
        while pending:
            window_start, window_end = pending.pop()
            try:
                rows = self._template_key_rows(service=service, start=window_start, end=window_end)
            except (SourceQueryError, SourceUnavailableError) as exc:
                half = (window_end - window_start) / 2
                if not _is_timeout(exc) or half < config.min_pushdown_window:
                    raise
                logger.info("HogQL pushdown timed out on %s..%s; halving the window", window_start, window_end)
                pending.extend([(window_start + half, window_end), (window_start, window_start + half)])
                continue
            for key, total, size, sevs, counts, first, last, example in rows:
                entry = merged.get(key)
                if entry is None:
                    merged[key] = entry = _Merged(example=str(example))
                entry.add(
                    count=int(total),
                    size=int(size or 0),
                    severities=zip(sevs, counts, strict=True),
                    first=_parse_time(first),
                    last=_parse_time(last),
                )
        ordered = sorted(merged.items(), key=lambda item: (-item[1].count, item[0]))
        if len(ordered) > config.max_template_keys:
            logger.warning(
                "template keys truncated to the %d most frequent; masking may be missing a variable field",
                config.max_template_keys,
            )
            ordered = ordered[: config.max_template_keys]
        return [entry.result(str(key)) for key, entry in ordered]

    def _template_key_rows(self, *, service: str | None, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
        where, values = _hogql_scope(service=service, start=start, end=end)
        key_expr, key_values = hogql_key_expression(column="body")
        values.update(key_values)
        limit = self.client.config.max_template_keys + 1
        result = self.client.hogql(
            query="SELECT tkey, sum(c) AS total, sum(b) AS size, groupArray(sev) AS sevs, groupArray(c) AS sev_counts,"  # noqa: S608 - values are parameters
            " min(first_ts) AS first_seen, max(last_ts) AS last_seen, any(example) AS example"
            f" FROM (SELECT {key_expr} AS tkey,"
            " if(severity_text != '', severity_text, toString(severity_number)) AS sev,"
            " count() AS c, sum(length(body)) AS b, min(timestamp) AS first_ts, max(timestamp) AS last_ts,"
            f" any(body) AS example FROM logs WHERE {where} GROUP BY tkey, sev)"
            f" GROUP BY tkey ORDER BY total DESC, tkey LIMIT {limit}",
            values=values,
        )
        return list(result.rows)


class _Merged:
    __slots__ = ("bytes", "count", "example", "first", "last", "severities")

    def __init__(self, *, example: str) -> None:
        self.count = 0
        self.bytes = 0
        self.severities: list[tuple[str, int]] = []
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.example = example

    def add(
        self, *, count: int, size: int, severities: Iterable[tuple[str, int]], first: datetime, last: datetime
    ) -> None:
        self.count += count
        self.bytes += size
        self.severities.extend(severities)
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def result(self, key: str) -> TemplateKeyCount:
        assert self.first is not None and self.last is not None
        return TemplateKeyCount(
            key=key,
            count=self.count,
            bytes=self.bytes,
            severities=merge_severities(self.severities),
            first_seen=self.first,
            last_seen=self.last,
            example=self.example,
        )


def _windows(start: datetime, end: datetime, size: timedelta | None) -> list[tuple[datetime, datetime]]:
    if size is None:
        return [(start, end)]
    windows = []
    cursor = start
    while cursor < end:
        windows.append((cursor, min(cursor + size, end)))
        cursor += size
    return windows


def _is_timeout(exc: SourceError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("timeout", "timed out", "time limit", "too long", "estimated query execution"))


def _hogql_scope(*, service: str | None, start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    # HogQL adds the team filter itself; we add the time range and service.
    where = "timestamp >= toDateTime({start}) AND timestamp < toDateTime({end})"
    values: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
    if service is not None:
        where += " AND service_name = {service}"
        values["service"] = service
    return where, values


def _record_from_api(row: Mapping[str, Any], *, default_service: str | None) -> SourceRecord:
    body = str(row.get("body") or "")
    resource = _string_map(row.get("resource_attributes"))
    service = str(row.get("service_name") or resource.get("service.name") or default_service or "")
    return SourceRecord(
        uuid=str(row.get("uuid") or ""),
        timestamp=_parse_time(row.get("timestamp")),
        body=body,
        severity=severity_of(row.get("severity_text"), _int_or_none(row.get("severity_number"))),
        service=service,
        trace_id=_optional_id(row.get("trace_id")),
        span_id=_optional_id(row.get("span_id")),
        attributes=MappingProxyType(_string_map(row.get("attributes"))),
        resource_attributes=MappingProxyType(resource),
        bytes=len(body.encode("utf-8", "replace")),
    )


def _string_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _optional_id(value: Any) -> str | None:
    if not value:
        return None
    text = str(value)
    return None if text in (_ZERO_TRACE, _ZERO_SPAN) or set(text) == {"0"} else text


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value.replace(" ", "T", 1)))
        except ValueError:
            pass
    raise SourceQueryError(f"PostHog returned an unreadable timestamp {value!r}")
