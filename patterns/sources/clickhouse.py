"""The one door to a self-hosted PostHog's ClickHouse `logs` table: read-only, parameterised, team- and time-scoped."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlparse

from clickhouse_driver import Client, errors

from patterns.sources.base import (
    SourceAuthError,
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
from patterns.sources.masking import clickhouse_key_expression

logger = logging.getLogger(__name__)

Schema = Literal["posthog", "compat"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_ATTRIBUTE_SUFFIX = "__str"
# ClickHouse error codes (src/Common/ErrorCodes.cpp) that mean "fix your credentials", not "retry".
_AUTH_CODES = frozenset({192, 193, 194, 195, 497, 516})
_TIMEOUT_CODES = frozenset({159, 160, 209})
_UNKNOWN_OBJECT_CODES = frozenset({16, 47, 60, 81})


@dataclasses.dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    """`schema="compat"` reads a table with second-precision DateTime and Nested(keys, values) attributes.

    A user whose profile is already readonly=1 may not change any setting: pass readonly=None and
    max_execution_time=None and rely on the server profile's limits.
    """

    team_id: int
    url: str = "clickhouse://127.0.0.1:9000/default"
    table: str = "logs"
    schema: Schema = "posthog"
    bytes_column: str | None = "_bytes_uncompressed"
    readonly: int | None = 2
    max_execution_time: int | None = 60
    connect_timeout: float = 10.0
    send_receive_timeout: float = 300.0
    page_size: int = 10_000
    max_template_keys: int = 50_000
    # The address to connect to instead of resolving the URL's host (the outbound door's checked address); TLS still
    # checks the certificate against the host name.
    address: str | None = None

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.table):
            raise SourceConfigError(f"invalid table name {self.table!r}")
        if self.bytes_column is not None and not _IDENTIFIER.match(self.bytes_column):
            raise SourceConfigError(f"invalid bytes column {self.bytes_column!r}")
        if self.schema not in ("posthog", "compat"):
            raise SourceConfigError(f"schema must be 'posthog' or 'compat', not {self.schema!r}")
        if self.page_size < 1 or self.max_template_keys < 1:
            raise SourceConfigError("page_size and max_template_keys must be positive")


def client_from_url(
    url: str,
    *,
    settings: Mapping[str, Any],
    connect_timeout: float,
    send_receive_timeout: float,
    address: str | None = None,
) -> Client:
    parsed = urlparse(url)
    if parsed.scheme not in ("clickhouse", "clickhouses"):
        raise SourceConfigError(f"ClickHouse URL must start with clickhouse:// or clickhouses://, got {url!r}")
    query = parse_qs(parsed.query)
    secure = parsed.scheme == "clickhouses" or query.get("secure", ["false"])[0].lower() in ("1", "true", "yes")
    hostname = parsed.hostname or "127.0.0.1"
    return Client(
        host=address or hostname,
        server_hostname=hostname if address else None,
        port=parsed.port or (9440 if secure else 9000),
        database=unquote(parsed.path.lstrip("/")) or "default",
        user=unquote(parsed.username or "default"),
        password=unquote(parsed.password or ""),
        secure=secure,
        connect_timeout=connect_timeout,
        send_receive_timeout=send_receive_timeout,
        sync_request_timeout=connect_timeout,
        settings=dict(settings),
    )


class ClickHouseLogSource:
    """Not thread-safe (one native connection); create one per task. Use as a context manager or call close()."""

    def __init__(self, config: ClickHouseConfig, *, client: Client | None = None) -> None:
        self.config = config
        settings: dict[str, Any] = {}
        if config.max_execution_time is not None:
            settings["max_execution_time"] = config.max_execution_time
        if config.readonly is not None:
            settings["readonly"] = config.readonly
        self._client = client or client_from_url(
            config.url,
            settings=settings,
            connect_timeout=config.connect_timeout,
            send_receive_timeout=config.send_receive_timeout,
            address=config.address,
        )

    def __enter__(self) -> ClickHouseLogSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()

    def ping(self) -> str:
        """The server version; raises a SourceError when it cannot be reached."""
        rows = self._execute("SELECT version()", {})
        return str(rows[0][0])

    def fetch_logs(
        self,
        *,
        service: str | None,
        start: datetime,
        end: datetime,
        severities: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[SourceRecord]:
        """Keyset pagination on (timestamp, uuid): each row once, pages stay cheap however deep the scan goes."""
        start_utc, end_utc = check_range(start=start, end=end)
        wanted = {severity_of(s) for s in severities} if severities is not None else None
        where, params = self._scope(service=service, start=start_utc, end=end_utc)
        columns = (
            "uuid, timestamp, body, severity_text, severity_number, service_name, trace_id, span_id,"
            " attributes_map_str.keys, attributes_map_str.values, resource_attributes.keys, resource_attributes.values,"
            f" {self._bytes_expr()}"
        )
        after: tuple[datetime, str] | None = None
        delivered = 0
        while True:
            page_where = where
            page_params = dict(params)
            if after is not None:
                ts = self._ts("after_ts")
                page_where += f" AND (timestamp > {ts} OR (timestamp = {ts} AND uuid > %(after_uuid)s))"
                page_params["after_ts"] = self._ts_value(after[0])
                page_params["after_uuid"] = after[1]
            page_params["page_size"] = self.config.page_size
            query = (
                f"SELECT {columns} FROM {self.config.table} WHERE {page_where}"  # noqa: S608 - values are parameters
                " ORDER BY timestamp, uuid LIMIT %(page_size)s"
            )
            rows = self._execute(query, page_params, rows_delivered=delivered)
            for row in rows:
                record = self._record(row)
                if wanted is None or record.severity in wanted:
                    yield record
                    delivered += 1
                    if limit is not None and delivered >= limit:
                        return
            if len(rows) < self.config.page_size:
                return
            after = (rows[-1][1], rows[-1][0])

    def log_volume(
        self, *, service: str | None, start: datetime, end: datetime, bucket: timedelta
    ) -> list[VolumeBucket]:
        start_utc, end_utc = check_range(start=start, end=end)
        seconds = int(bucket.total_seconds())
        if seconds < 1 or bucket != timedelta(seconds=seconds):
            raise SourceConfigError("bucket must be a whole number of seconds")
        where, params = self._scope(service=service, start=start_utc, end=end_utc)
        params["bucket"] = seconds
        query = (
            f"SELECT intDiv(toUnixTimestamp(timestamp), %(bucket)s) * %(bucket)s AS bucket_start,"  # noqa: S608 - values are parameters
            f" count() AS lines, sum({self._bytes_expr()}) AS size"
            f" FROM {self.config.table} WHERE {where} GROUP BY bucket_start ORDER BY bucket_start"
        )
        return [
            VolumeBucket(start=datetime.fromtimestamp(int(b), tz=UTC), lines=int(n), bytes=int(s))
            for b, n, s in self._execute(query, params)
        ]

    def count_template_keys(self, *, service: str | None, start: datetime, end: datetime) -> list[TemplateKeyCount]:
        """GROUP BY the masked body inside ClickHouse so only one row per distinct template key travels."""
        start_utc, end_utc = check_range(start=start, end=end)
        where, params = self._scope(service=service, start=start_utc, end=end_utc)
        key_expr, key_params = clickhouse_key_expression(column="body")
        params.update(key_params)
        params["key_limit"] = self.config.max_template_keys + 1
        # Two levels keep the severity mix exact on 18.16 too, where sumMap takes numeric keys only.
        query = (
            "SELECT tkey, sum(c) AS total, sum(b) AS size, groupArray(sev) AS sevs, groupArray(c) AS sev_counts,"  # noqa: S608 - values are parameters
            " min(first_ts) AS first_seen, max(last_ts) AS last_seen, any(example) AS example"
            f" FROM (SELECT {key_expr} AS tkey,"
            " if(severity_text != '', severity_text, toString(severity_number)) AS sev,"
            f" count() AS c, sum({self._bytes_expr()}) AS b, min(timestamp) AS first_ts, max(timestamp) AS last_ts,"
            f" any(body) AS example FROM {self.config.table} WHERE {where} GROUP BY tkey, sev)"
            " GROUP BY tkey ORDER BY total DESC, tkey LIMIT %(key_limit)s"
        )
        rows = self._execute(query, params)
        if len(rows) > self.config.max_template_keys:
            logger.warning(
                "template keys truncated to the %d most frequent; masking may be missing a variable field",
                self.config.max_template_keys,
            )
            rows = rows[: self.config.max_template_keys]
        return [
            TemplateKeyCount(
                key=str(key),
                count=int(total),
                bytes=int(size),
                severities=merge_severities(zip(sevs, counts, strict=True)),
                first_seen=as_utc(first),
                last_seen=as_utc(last),
                example=str(example),
            )
            for key, total, size, sevs, counts, first, last, example in rows
        ]

    def _scope(self, *, service: str | None, start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
        where = f"team_id = %(team_id)s AND timestamp >= {self._ts('start')} AND timestamp < {self._ts('end')}"
        params: dict[str, Any] = {
            "team_id": self.config.team_id,
            "start": self._ts_value(start),
            "end": self._ts_value(end),
        }
        if service is not None:
            where += " AND service_name = %(service)s"
            params["service"] = service
        return where, params

    def _ts(self, name: str) -> str:
        # The driver formats datetime params to whole seconds, so microseconds travel as a string and are parsed here.
        if self.config.schema == "posthog":
            return f"toDateTime64(%({name})s, 6, 'UTC')"
        return f"toDateTime(%({name})s, 'UTC')"

    def _ts_value(self, moment: datetime) -> str:
        utc = as_utc(moment)
        if self.config.schema == "posthog":
            return utc.strftime("%Y-%m-%d %H:%M:%S.%f")
        return utc.strftime("%Y-%m-%d %H:%M:%S")

    def _bytes_expr(self) -> str:
        return self.config.bytes_column or "length(body)"

    def _record(self, row: Sequence[Any]) -> SourceRecord:
        (uuid, ts, body, sev_text, sev_number, service, trace_id, span_id, a_keys, a_values, r_keys, r_values, size) = (
            row
        )
        attributes = {
            (k[: -len(_ATTRIBUTE_SUFFIX)] if k.endswith(_ATTRIBUTE_SUFFIX) else k): v
            for k, v in zip(a_keys, a_values, strict=False)
        }
        return SourceRecord(
            uuid=str(uuid),
            timestamp=as_utc(ts),
            body=body,
            severity=severity_of(sev_text, sev_number),
            service=service,
            trace_id=_optional_id(trace_id),
            span_id=_optional_id(span_id),
            attributes=MappingProxyType(attributes),
            resource_attributes=MappingProxyType(dict(zip(r_keys, r_values, strict=False))),
            bytes=int(size),
        )

    def _execute(self, query: str, params: Mapping[str, Any], *, rows_delivered: int = 0) -> list[Any]:
        try:
            return list(self._client.execute(query, dict(params)))
        except errors.ServerException as exc:
            raise _translate_server_error(exc, rows_delivered=rows_delivered) from exc
        except (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError) as exc:
            # A dropped connection leaves the driver mid-packet; forget it so the next call reconnects cleanly.
            self._client.disconnect()
            raise SourceUnavailableError(
                f"ClickHouse at {_redact(self.config.url)} is unreachable: {exc}", rows_delivered=rows_delivered
            ) from exc
        except errors.Error as exc:
            self._client.disconnect()
            raise SourceError(f"ClickHouse client error: {exc}", rows_delivered=rows_delivered) from exc


def _translate_server_error(exc: errors.ServerException, *, rows_delivered: int) -> SourceError:
    code = int(getattr(exc, "code", 0) or 0)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    if code in _AUTH_CODES:
        return SourceAuthError(f"ClickHouse refused the credentials: {first_line}", rows_delivered=rows_delivered)
    if code in _TIMEOUT_CODES:
        return SourceQueryError(
            f"ClickHouse query exceeded max_execution_time: {first_line}", rows_delivered=rows_delivered
        )
    if code in _UNKNOWN_OBJECT_CODES:
        return SourceQueryError(
            f"ClickHouse table or column missing (check table/schema settings): {first_line}",
            rows_delivered=rows_delivered,
        )
    return SourceQueryError(f"ClickHouse error {code}: {first_line}", rows_delivered=rows_delivered)


def _optional_id(value: str | None) -> str | None:
    if not value or set(value) == {"0"}:
        return None
    return value


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
