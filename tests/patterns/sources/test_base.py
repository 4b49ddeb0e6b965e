"""The LogSource contract and the Python fallbacks every source shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patterns.sources import (
    ClickHouseConfig,
    ClickHouseLogSource,
    FileLogSource,
    FileSourceConfig,
    LogSource,
    PostHogConfig,
    PostHogLogSource,
    SourceConfigError,
    SourceRecord,
    template_keys_from_records,
    volume_from_records,
)
from patterns.sources.base import severity_of

START = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _record(offset: timedelta, body: str, severity: str = "INFO", size: int = 10) -> SourceRecord:
    return SourceRecord(
        uuid=str(offset), timestamp=START + offset, body=body, severity=severity, service="api", bytes=size
    )


def test_every_source_satisfies_the_protocol(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x\n")
    sources = [
        FileLogSource(FileSourceConfig(paths=(str(tmp_path / "a.log"),))),
        PostHogLogSource.from_config(PostHogConfig(host="http://127.0.0.1:9", project_id=1, personal_api_key="phx_k")),
        ClickHouseLogSource(ClickHouseConfig(team_id=1, url="clickhouse://127.0.0.1:9/default")),
    ]

    assert all(isinstance(source, LogSource) for source in sources)


def test_python_fallback_counts_keys_with_mix_and_span() -> None:
    records = [
        _record(timedelta(minutes=2), "took 5 ms", "WARN", 9),
        _record(timedelta(minutes=1), "took 12 ms", "INFO", 10),
        _record(timedelta(minutes=3), "ready"),
    ]

    took, ready = template_keys_from_records(records)

    assert (took.key, took.count, took.bytes) == ("took <NUM>", 2, 19)
    assert took.severities == {"WARN": 1, "INFO": 1}
    assert (took.first_seen, took.last_seen, took.example) == (
        START + timedelta(minutes=1),
        START + timedelta(minutes=2),
        "took 5 ms",
    )
    assert (ready.key, ready.count) == ("ready", 1)


def test_volume_buckets_align_to_the_epoch() -> None:
    records = [_record(timedelta(minutes=m), "x") for m in (0, 4, 5, 14)]

    volume = volume_from_records(records, start=START, end=START + timedelta(hours=1), bucket=timedelta(minutes=5))

    assert [(b.start - START, b.lines, b.bytes) for b in volume] == [
        (timedelta(0), 2, 20),
        (timedelta(minutes=5), 1, 10),
        (timedelta(minutes=10), 1, 10),
    ]


@pytest.mark.parametrize(
    ("text", "number", "expected"),
    [
        ("warning", None, "WARN"),
        ("", 17, "ERROR"),
        (None, 21, "FATAL"),
        ("", 0, "INFO"),
        ("13", None, "WARN"),
        ("info", 18, "ERROR"),
        ("ERROR2", None, "ERROR"),
    ],
)
def test_severity_follows_the_shared_reading(text: str | None, number: int | None, expected: str) -> None:
    assert severity_of(text, number) == expected


def test_empty_or_reversed_ranges_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x\n")
    source = FileLogSource(FileSourceConfig(paths=(str(tmp_path / "a.log"),)))

    with pytest.raises(SourceConfigError, match="empty time range"):
        list(source.fetch_logs(service=None, start=START, end=START))


@pytest.mark.parametrize("table", ["logs; DROP TABLE x", "logs WHERE 1", "1logs"])
def test_clickhouse_identifiers_are_validated(table: str) -> None:
    with pytest.raises(SourceConfigError, match="invalid table name"):
        ClickHouseConfig(team_id=1, table=table)
