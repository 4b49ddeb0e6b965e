"""The file source: plain text, Loghub notation, JSON lines, OTLP JSON exports, gzip."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lipservice_sdk.signature import template_key

from patterns.sources import FileLogSource, FileSourceConfig, SourceConfigError, SourceFormatError, SourceRecord

START = datetime(2026, 11, 20, tzinfo=UTC)
END = START + timedelta(days=1)
ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))

OTLP_EXPORT = {
    "resourceLogs": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeLogs": [
                {
                    "scope": {"name": "app"},
                    "logRecords": [
                        {
                            "timeUnixNano": "1795132800123456000",
                            "severityNumber": 17,
                            "severityText": "",
                            "body": {"stringValue": "payment 42 failed"},
                            "attributes": [
                                {"key": "http.status_code", "value": {"intValue": "502"}},
                                {"key": "retry", "value": {"boolValue": True}},
                            ],
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                        },
                        {
                            "observedTimeUnixNano": "1795132801000000000",
                            "severityNumber": "SEVERITY_NUMBER_WARN",
                            "body": {"stringValue": "slow response 900 ms"},
                            "traceId": "",
                        },
                    ],
                }
            ],
        }
    ]
}


def _source(*paths: Path, **options: object) -> FileLogSource:
    return FileLogSource(FileSourceConfig(paths=tuple(str(p) for p in paths), **options))  # type: ignore[arg-type]


def _all(source: FileLogSource) -> list[SourceRecord]:
    return list(source.fetch_logs(service=None, start=ALL_TIME[0], end=ALL_TIME[1]))


def test_json_lines_with_common_field_names(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    lines = [
        {"timestamp": "2026-11-20T10:00:00Z", "level": "warning", "message": "disk 91% full", "service": "db"},
        {"@timestamp": 1795168800, "levelname": "ERROR", "msg": "boom 1", "traceId": "ab" * 16, "user": {"id": 3}},
        {"ts": 1795168800123, "severity_text": "debug", "log": "tick", "service_name": "cron", "span_id": "0" * 16},
        {"time": "2026-11-20 10:00:02,5", "severity": "info", "body": "ok"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")

    records = _all(_source(path, default_service="fallback"))

    assert [r.body for r in records] == ["disk 91% full", "boom 1", "tick", "ok"]
    assert [r.severity for r in records] == ["WARN", "ERROR", "DEBUG", "INFO"]
    assert [r.service for r in records] == ["db", "fallback", "cron", "fallback"]
    assert records[0].timestamp == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert records[1].timestamp == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert records[2].timestamp == datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=UTC)
    assert records[3].timestamp == datetime(2026, 11, 20, 10, 0, 2, 500000, tzinfo=UTC)
    assert records[1].trace_id == "ab" * 16 and records[2].span_id is None
    assert records[1].attributes == {"user": '{"id": 3}'}


def test_otlp_json_export_pretty_printed_and_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "export.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump(OTLP_EXPORT, handle, indent=2)

    first, second = _all(_source(path))

    assert (first.body, first.severity, first.service) == ("payment 42 failed", "ERROR", "checkout")
    assert first.timestamp == datetime.fromtimestamp(1795132800, tz=UTC) + timedelta(microseconds=123456)
    assert first.attributes == {"http.status_code": "502", "retry": "true"}
    assert first.resource_attributes == {"service.name": "checkout"}
    assert first.trace_id == "5b8efff798038103d269b633813fc60c" and first.span_id == "eee19b7ec3c1b174"
    assert (second.severity, second.trace_id) == ("WARN", None)
    assert second.timestamp == datetime.fromtimestamp(1795132801, tz=UTC)


def test_otlp_export_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "collector.jsonl"
    path.write_text(json.dumps(OTLP_EXPORT) + "\n" + json.dumps(OTLP_EXPORT) + "\n")

    records = _all(_source(path))

    assert len(records) == 4 and len({r.uuid for r in records}) == 4


def test_plain_text_finds_level_and_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("2026-11-20 10:00:00,123 ERROR db: connection 7 refused\nno level here\n")

    first, second = _all(_source(path))

    assert (first.severity, first.timestamp) == ("ERROR", datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=UTC))
    assert first.body == "2026-11-20 10:00:00,123 ERROR db: connection 7 refused"
    assert second.severity == "INFO"
    assert second.timestamp == datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def test_loghub_format_splits_header_fields(tmp_path: Path) -> None:
    path = tmp_path / "HDFS_2k.log"
    path.write_text(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 "
        "terminating\n"
    )

    (record,) = _all(_source(path, loghub_format="<Date> <Time> <Pid> <Level> <Component>: <Content>"))

    assert record.body == "PacketResponder 1 for block blk_38865049064139660 terminating"
    assert record.severity == "INFO"
    assert record.attributes == {
        "Date": "081109",
        "Time": "203615",
        "Pid": "148",
        "Component": "dfs.DataNode$PacketResponder",
    }


def test_filters_keys_and_volume_are_computed_in_python(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    rows = [
        {
            "timestamp": (START + timedelta(minutes=i)).isoformat(),
            "level": "error" if i % 3 == 0 else "info",
            "message": f"request {i} took {i * 3} ms",
            "service": "api" if i % 2 else "web",
        }
        for i in range(120)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    source = _source(path)

    keys = source.count_template_keys(service="api", start=START, end=END)
    volume = source.log_volume(service=None, start=START, end=START + timedelta(hours=1), bucket=timedelta(minutes=30))
    errors = list(source.fetch_logs(service=None, start=START, end=END, severities=["ERROR"], limit=5))

    assert [(k.key, k.count) for k in keys] == [(template_key("request 1 took 3 ms"), 60)]
    assert keys[0].severities == {"ERROR": 20, "INFO": 40}
    assert [(b.start, b.lines) for b in volume] == [(START, 30), (START + timedelta(minutes=30), 30)]
    assert len(errors) == 5 and {e.severity for e in errors} == {"ERROR"}


def test_rereading_gives_the_same_uuids(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("one\ntwo\n")

    assert [r.uuid for r in _all(_source(path))] == [r.uuid for r in _all(_source(path))]


def test_globs_and_directories_expand(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("a\n")
    (tmp_path / "logs" / "b.log").write_text("b\n")

    assert [r.body for r in _all(_source(tmp_path / "logs"))] == ["a", "b"]
    assert [r.body for r in _all(_source(tmp_path / "logs" / "*.log"))] == ["a", "b"]


def test_missing_file_and_bad_json_raise_source_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"message": "ok"}\n{broken\n')

    with pytest.raises(SourceConfigError, match="no such log file"):
        _all(_source(tmp_path / "missing.log"))
    with pytest.raises(SourceFormatError, match=r"bad\.jsonl:2"):
        _all(_source(bad))


def test_time_range_skips_lines_by_their_leading_timestamp_without_losing_any(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    lines = [f'{{"timestamp":"2026-11-01T{h:02d}:00:00Z","body":"tick {h}"}}' for h in range(24)]
    lines.insert(5, '{"body":"no leading time","ts":"2026-11-01T06:30:00Z"}')
    path.write_text("\n".join(lines) + "\n")
    source = FileLogSource(FileSourceConfig(paths=(str(path),)))
    start, end = datetime(2026, 11, 1, 6, tzinfo=UTC), datetime(2026, 11, 1, 9, tzinfo=UTC)
    got = [r.body for r in source.fetch_logs(service=None, start=start, end=end)]
    assert got == ["no leading time", "tick 6", "tick 7", "tick 8"]


@pytest.mark.parametrize("loghub_format", [None, r"\[<Time>\] <Program> - <Content>"])
def test_text_lines_that_open_with_a_bracket_are_text(tmp_path: Path, loghub_format: str | None) -> None:
    path = tmp_path / "Proxifier.log"
    path.write_text(
        "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS\n"
        "[10.30 16:49:07] chrome.exe - proxy.cse.cuhk.edu.hk:5070 close, 0 bytes sent, 0 bytes received\n"
    )

    records = _all(_source(path, loghub_format=loghub_format))

    assert len(records) == 2
    assert records[1].body.endswith("close, 0 bytes sent, 0 bytes received")
    if loghub_format:
        assert records[0].attributes["Program"] == "chrome.exe"


def test_a_json_array_document_is_still_read_as_json(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"body": "payment 42 failed", "level": "error"}, {"message": "ok"}], indent=2))

    records = _all(_source(path))

    assert [r.body for r in records] == ["payment 42 failed", "ok"]
