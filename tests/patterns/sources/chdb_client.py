"""A chdb (current ClickHouse, in process) stand-in for clickhouse_driver.Client, and PostHog's real column types."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from clickhouse_driver.util.escape import escape_params

POSTHOG_DDL = """
CREATE TABLE {table} (
    uuid String,
    team_id Int32,
    timestamp DateTime64(6, 'UTC'),
    observed_timestamp DateTime64(6, 'UTC'),
    body String,
    severity_text LowCardinality(String),
    severity_number Int32,
    service_name LowCardinality(String),
    trace_id String,
    span_id String,
    attributes_map_str Map(LowCardinality(String), String),
    resource_attributes Map(LowCardinality(String), String),
    _bytes_uncompressed UInt64
) ENGINE = MergeTree ORDER BY (team_id, service_name, timestamp)
"""


def copy_sql(*, source: str, target: str) -> str:
    """Compat rows into PostHog types; sub-second offsets in four steps keep ties for keyset tie-breaks."""
    return f"""
INSERT INTO {target} SELECT uuid, team_id,
    addMicroseconds(toDateTime64(timestamp, 6, 'UTC'), (cityHash64(uuid) % 4) * 250000 + 7) AS ts, ts,
    body, severity_text, severity_number, service_name, trace_id, span_id,
    mapFromArrays(attributes_map_str.keys, attributes_map_str.values),
    mapFromArrays(resource_attributes.keys, resource_attributes.values), _bytes_uncompressed
FROM {source}
"""  # noqa: S608 - test tables only


class _Context:
    class server_info:
        @staticmethod
        def get_timezone() -> str:
            return "UTC"


class ChdbClient:
    """The slice of clickhouse_driver.Client the source uses, rendering params with the driver's own escaping."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.queries: list[str] = []

    def execute(
        self, query: str, params: Mapping[str, Any] | None = None, settings: object = None
    ) -> list[tuple[Any, ...]]:
        rendered = query % escape_params(params, _Context) if params else query
        self.queries.append(rendered)
        result = self.session.query(rendered, "JSONCompact")
        raw = result.bytes()
        if not raw:
            return []
        payload = json.loads(raw)
        types = [column["type"] for column in payload["meta"]]
        return [tuple(_convert(value, kind) for value, kind in zip(row, types, strict=True)) for row in payload["data"]]

    def disconnect(self) -> None:
        pass


def _convert(value: Any, kind: str) -> Any:
    if kind.startswith("Array(") and isinstance(value, list):
        return [_convert(v, kind[6:-1]) for v in value]
    if kind.startswith("DateTime64"):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if kind.startswith(("UInt", "Int")) and isinstance(value, str):
        return int(value)
    return value
