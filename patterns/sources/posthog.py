"""The one door to the PostHog API: Logs query, HogQL pushdown, drop rules and hog functions; retries, scopes."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

import httpx

from patterns.sources.base import (
    LogRecord,
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceNotSupportedError,
    SourceQueryError,
    SourceRateLimitedError,
    SourceUnavailableError,
    TemplateKeyCount,
    VolumeBucket,
    as_utc,
    check_range,
    merge_severities,
    severity_of,
)
from patterns.sources.masking import hogql_key_expression

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 2000
MAX_HOGQL_ROWS = 50_000
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})

CheckStatus = Literal["ok", "denied", "unavailable", "unknown", "error"]


@dataclasses.dataclass(frozen=True, slots=True)
class PostHogConfig:
    """`host` is the app host (https://us.posthog.com, https://eu.posthog.com or self-hosted), not the ingest host."""

    host: str
    project_id: int | str
    personal_api_key: str
    timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_retry_after: float = 300.0
    page_size: int = 1000
    max_template_keys: int = MAX_HOGQL_ROWS - 1
    pushdown_window: timedelta | None = timedelta(hours=1)
    min_pushdown_window: timedelta = timedelta(minutes=1)
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if not self.host.startswith(("http://", "https://")):
            raise SourceConfigError(f"PostHog host must be an http(s) URL, got {self.host!r}")
        if not self.personal_api_key:
            raise SourceConfigError("a PostHog personal API key (phx_...) is required")
        if self.personal_api_key.startswith("phc_"):
            raise SourceConfigError("phc_ is a project token for sending; reading needs a personal API key (phx_...)")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise SourceConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if not 1 <= self.max_template_keys <= MAX_HOGQL_ROWS - 1:
            raise SourceConfigError(f"max_template_keys must be below {MAX_HOGQL_ROWS}")
        if self.max_attempts < 1:
            raise SourceConfigError("max_attempts must be at least 1")
        if self.pushdown_window is not None and self.pushdown_window <= timedelta(0):
            raise SourceConfigError("pushdown_window must be positive (or None for one query)")


@dataclasses.dataclass(frozen=True, slots=True)
class HogQLResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    has_more: bool


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    status: CheckStatus
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionReport:
    logs_read: CheckResult
    hogql: CheckResult
    drop_rule_write: CheckResult

    @property
    def can_read(self) -> bool:
        return self.logs_read.status == "ok" and self.hogql.status == "ok"


def outbound_transport(*, verify: bool = True) -> httpx.BaseTransport:
    """The transport of every call made to a PostHog host (API reads and writes, OAuth discovery, tokens).

    One seam, so the outbound door (loopback, private networks, the operator allowlist) applies to all of them.
    """
    from lipservice.outbound import PinnedTransport

    return PinnedTransport(verify=verify)


class PostHogClient:
    """Thread-safe for reads (httpx.Client is); every call retries 429/5xx/timeouts a bounded number of times.

    `auth`, when given, replaces the static bearer key per request (an OAuth token that refreshes itself).
    """

    def __init__(
        self,
        config: PostHogConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            base_url=config.host.rstrip("/"),
            headers={"Authorization": f"Bearer {config.personal_api_key}", "Accept": "application/json"},
            timeout=config.timeout,
            verify=config.verify_tls,
            transport=transport or outbound_transport(verify=config.verify_tls),
            auth=auth,
        )

    def __enter__(self) -> PostHogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def project_path(self) -> str:
        return f"/api/projects/{self.config.project_id}"

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """`scope` is named in the error when PostHog refuses; non-idempotent calls retry only what was never sent."""
        last_problem = "no attempt made"
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                response = self._http.request(method, path, json=json_body, params=params)
            except httpx.ConnectError as exc:
                last_problem = f"cannot connect: {exc}"
            except httpx.TimeoutException as exc:
                if not idempotent:
                    raise SourceUnavailableError(
                        f"PostHog {method} {path} timed out; not retried because it may have been applied: {exc}"
                    ) from exc
                last_problem = f"timed out after {self.config.timeout}s"
            except httpx.HTTPError as exc:
                if not idempotent:
                    raise SourceUnavailableError(f"PostHog {method} {path} failed: {exc}") from exc
                last_problem = f"transport error: {exc}"
            else:
                status = response.status_code
                if status < 300:
                    return _json(response) if status != 204 else None
                if status == 429:
                    wait = _retry_after(response)
                    if wait > self.config.max_retry_after:
                        raise SourceRateLimitedError(
                            f"PostHog rate limit on {path}: asked to wait {wait:.0f}s, over the"
                            f" {self.config.max_retry_after:.0f}s we accept"
                        )
                    last_problem = f"rate limited (429, Retry-After {wait:.1f}s)"
                    if attempt < self.config.max_attempts:
                        logger.info("posthog 429 on %s, waiting %.1fs", path, wait)
                        self._sleep(wait)
                        continue
                    raise SourceRateLimitedError(f"PostHog {method} {path} still rate limited after {attempt} attempts")
                if status in _RETRYABLE_STATUS and idempotent:
                    last_problem = f"HTTP {status}: {_detail(response)}"
                else:
                    raise _http_error(response, method=method, path=path, scope=scope)
            if attempt < self.config.max_attempts:
                self._sleep(self._backoff(attempt))
        raise SourceUnavailableError(
            f"PostHog {method} {path} failed after {self.config.max_attempts} attempts; last: {last_problem}"
        )

    def _backoff(self, attempt: int) -> float:
        # Equal jitter: never less than half the exponential step, so a storm of workers still spreads out.
        step = min(self.config.backoff_max, self.config.backoff_base * (1 << (attempt - 1)))
        return step / 2 + self._jitter() * step / 2

    def logs_query(self, *, query: Mapping[str, Any]) -> dict[str, Any]:
        result = self.request("POST", f"{self.project_path}/logs/query/", scope="logs:read", json_body={"query": query})
        return _expect_dict(result, "logs/query")

    def logs_sparkline(self, *, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        result = self.request(
            "POST", f"{self.project_path}/logs/sparkline/", scope="logs:read", json_body={"query": query}
        )
        if isinstance(result, dict):
            result = result.get("results", [])
        return list(result or [])

    def hogql(self, *, query: str, values: Mapping[str, Any] | None = None) -> HogQLResult:
        payload: dict[str, Any] = {"kind": "HogQLQuery", "query": query}
        if values:
            payload["values"] = dict(values)
        result = _expect_dict(
            self.request("POST", f"{self.project_path}/query/", scope="query:read", json_body={"query": payload}),
            "query",
        )
        if result.get("error"):
            raise SourceQueryError(f"HogQL query failed: {result['error']}")
        return HogQLResult(
            columns=tuple(result.get("columns") or ()),
            rows=tuple(tuple(row) for row in result.get("results") or ()),
            has_more=bool(result.get("hasMore")),
        )

    def logs_services(self, *, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Per-service volume and error counts: `[{service_name, log_count, error_count, error_rate}]`."""
        result = self.request(
            "POST", f"{self.project_path}/logs/services/", scope="logs:read", json_body={"query": query}
        )
        if isinstance(result, dict) and isinstance(result.get("results"), dict):
            result = result["results"]
        if isinstance(result, dict):
            result = result.get("services", result.get("results", []))
        return [row for row in result or [] if isinstance(row, dict)]

    def list_projects(self) -> list[dict[str, Any]]:
        """The projects the credential can see (`GET /api/projects/`, paginated)."""
        return self._list("/api/projects/", scope="project:read")

    def current_key(self) -> dict[str, Any]:
        """The key's own description (scopes, scoped teams); PostHog answers this for personal API keys only."""
        return _expect_dict(self.request("GET", "/api/personal_api_keys/@current/", scope="(any)"), "@current")

    def list_drop_rules(self) -> list[dict[str, Any]]:
        return self._list(f"{self.project_path}/logs/sampling_rules/", scope="logs:read")

    def create_drop_rule(self, *, rule: Mapping[str, Any]) -> dict[str, Any]:
        return _expect_dict(
            self.request(
                "POST",
                f"{self.project_path}/logs/sampling_rules/",
                scope="logs:write",
                json_body=dict(rule),
                idempotent=False,
            ),
            "sampling_rules",
        )

    def update_drop_rule(self, *, rule_id: str | int, changes: Mapping[str, Any]) -> dict[str, Any]:
        return _expect_dict(
            self.request(
                "PATCH",
                f"{self.project_path}/logs/sampling_rules/{rule_id}/",
                scope="logs:write",
                json_body=dict(changes),
            ),
            "sampling_rules",
        )

    def list_hog_functions(self, *, function_type: str | None = "transformation_log") -> list[dict[str, Any]]:
        params = {"type": function_type} if function_type else None
        return self._list(f"{self.project_path}/hog_functions/", scope="hog_function:read", params=params)

    def create_hog_function(self, *, function: Mapping[str, Any]) -> dict[str, Any]:
        return _expect_dict(
            self.request(
                "POST",
                f"{self.project_path}/hog_functions/",
                scope="hog_function:write",
                json_body=dict(function),
                idempotent=False,
            ),
            "hog_functions",
        )

    def update_hog_function(self, *, function_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return _expect_dict(
            self.request(
                "PATCH",
                f"{self.project_path}/hog_functions/{function_id}/",
                scope="hog_function:write",
                json_body=dict(changes),
            ),
            "hog_functions",
        )

    def test_connection(self) -> ConnectionReport:
        """Probes each capability with reads only; drop-rule writes are judged from the key's scopes, never tried."""
        now = datetime.now(UTC)
        logs_read = self._check(
            lambda: self.logs_query(
                query={"dateRange": _date_range(now - timedelta(hours=1), now), "limit": 1, "orderBy": "latest"}
            ),
            ok="logs query answered",
        )
        hogql = self._check(lambda: self.hogql(query="SELECT 1"), ok="HogQL query answered")
        listing = self._check(self.list_drop_rules, ok="drop rules listed")
        drop_rule_write = listing if listing.status != "ok" else self._write_permission()
        return ConnectionReport(logs_read=logs_read, hogql=hogql, drop_rule_write=drop_rule_write)

    def _write_permission(self) -> CheckResult:
        try:
            key = self.current_key()
        except SourceError as exc:
            return CheckResult(
                "unknown", f"drop rules can be listed; write permission unknown (key scopes unreadable: {exc})"
            )
        scopes = set(key.get("scopes") or ())
        if "*" in scopes or "logs:write" in scopes:
            return CheckResult("ok", "drop rules can be listed and the key has logs:write")
        return CheckResult(
            "denied", f"the key lacks scope 'logs:write' (it has: {', '.join(sorted(scopes)) or 'none'})"
        )

    @staticmethod
    def _check(call: Callable[[], object], *, ok: str) -> CheckResult:
        try:
            call()
        except SourceAuthError as exc:
            return CheckResult("denied", str(exc))
        except SourceNotSupportedError as exc:
            return CheckResult("unavailable", str(exc))
        except SourceUnavailableError as exc:
            return CheckResult("unavailable", str(exc))
        except SourceError as exc:
            return CheckResult("error", str(exc))
        return CheckResult("ok", ok)

    def _list(self, path: str, *, scope: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_path: str | None = path
        next_params = params
        pages = 0
        while next_path is not None:
            pages += 1
            if pages > 1000:
                raise SourceQueryError(f"PostHog listing {path} did not end after 1000 pages")
            result = self.request("GET", next_path, scope=scope, params=next_params)
            if isinstance(result, list):
                return items + result
            page = _expect_dict(result, path)
            items.extend(page.get("results") or [])
            next_url = page.get("next")
            next_path = _same_host_path(next_url, self.config.host) if next_url else None
            next_params = None
        return items


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
    ) -> Iterator[LogRecord]:
        start_utc, end_utc = check_range(start=start, end=end)
        wanted = sorted({severity_of(s) for s in severities}) if severities is not None else None
        query: dict[str, Any] = {
            "dateRange": _date_range(start_utc, end_utc),
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


def _date_range(start: datetime, end: datetime) -> dict[str, str]:
    return {"date_from": as_utc(start).isoformat(), "date_to": as_utc(end).isoformat()}


def _record_from_api(row: Mapping[str, Any], *, default_service: str | None) -> LogRecord:
    body = str(row.get("body") or "")
    resource = _string_map(row.get("resource_attributes"))
    service = str(row.get("service_name") or resource.get("service.name") or default_service or "")
    return LogRecord(
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


def _retry_after(response: httpx.Response) -> float:
    header = response.headers.get("Retry-After", "").strip()
    if not header:
        return 1.0
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, (as_utc(when) - datetime.now(UTC)).total_seconds())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise SourceQueryError(
            f"PostHog answered {response.request.url.path} with non-JSON ({response.headers.get('content-type')})"
        ) from exc


def _expect_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceQueryError(f"PostHog {what} answered {type(value).__name__}, expected an object")
    return value


def _detail(response: httpx.Response) -> str:
    """A short reason for an error: PostHog's own `detail`/`code` field, else the reason phrase. Never the body: the
    host is the tenant's choice, and what it answers is echoed back to them."""
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(payload, dict):
        for field in ("detail", "error", "message", "code"):
            if isinstance(payload.get(field), str) and payload[field]:
                return "".join(ch for ch in payload[field][:120] if ch.isprintable())
    return response.reason_phrase


def _http_error(response: httpx.Response, *, method: str, path: str, scope: str) -> SourceError:
    status, detail = response.status_code, _detail(response)
    lowered = detail.lower()
    if status == 401:
        return SourceAuthError(
            f"PostHog rejected the personal API key (401) on {method} {path}: {detail}."
            f" Use a personal API key (phx_...) with scope '{scope}'",
            scope=scope,
        )
    if status == 403:
        if "feature" in lowered or "flag" in lowered or "not enabled" in lowered:
            return SourceNotSupportedError(
                f"PostHog refused {method} {path} (403): {detail}. The feature (or its feature flag) is not"
                " enabled for this project"
            )
        return SourceAuthError(
            f"PostHog denied {method} {path} (403): the key needs scope '{scope}' for this project. {detail}",
            scope=scope,
        )
    if status == 404:
        return SourceNotSupportedError(
            f"PostHog has no {method} {path} (404): check the project id; if it is right, this product is not"
            f" enabled on this instance (feature flag or version). {detail}"
        )
    if status in (400, 422):
        return SourceQueryError(f"PostHog rejected {method} {path} ({status}): {detail}")
    if status == 413:
        return SourceQueryError(f"PostHog refused {method} {path} as too large (413)")
    return SourceUnavailableError(f"PostHog {method} {path} failed with HTTP {status}: {detail}")


def _same_host_path(url: str, host: str) -> str:
    # `next` links are absolute; keep requests on the configured host so the key is never sent elsewhere.
    parsed = httpx.URL(url)
    base = httpx.URL(host)
    if parsed.host and (parsed.host != base.host or parsed.port != base.port):
        raise SourceQueryError(f"PostHog pagination pointed to another host: {parsed.host}")
    return parsed.raw_path.decode("ascii")
