"""Log lines become records: message, level in any spelling, header time, trace id, and the file's line number."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from patterns.engine.logformat import LogFormat, level_of_text
from policies.engine.records import records_from_lines


@pytest.mark.parametrize(
    ("log_format", "line", "expected"),
    [
        (
            "<Date> <Time> <Level> <Content>",
            "2015-10-18 18:01:47,978 INFO started",
            datetime(2015, 10, 18, 18, 1, 47, 978000),
        ),
        ("<Date> <Time> <Level> <Content>", "17/06/09 20:10:40 INFO started", datetime(2017, 6, 9, 20, 10, 40)),
        ("<Date> <Time> <Level> <Content>", "081109 203615 INFO started", datetime(2008, 11, 9, 20, 36, 15)),
        ("<Month> <Date> <Time> <Content>", "Jun 14 15:16:01 started", datetime(1900, 6, 14, 15, 16, 1)),
        ("<Time>\\|<Content>", "20171223-22:15:29:606|started", datetime(2017, 12, 23, 22, 15, 29, 606000)),
        ("<Date>T<Time> <Content>", "2026-11-23T10:00:00 started", datetime(2026, 11, 23, 10)),
        ("<Date> <Content>", "someday started", None),
    ],
)
def test_header_time_is_read_from_common_layouts(log_format: str, line: str, expected: datetime | None) -> None:
    (record,) = records_from_lines([line], log_format=LogFormat(log_format))
    assert record.message == "started"
    if expected is None:
        assert record.timestamp is None
    else:
        assert record.timestamp == pytest.approx(expected.replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("level", "severity"),
    [("E", "ERROR"), ("err", "ERROR"), ("SEVERE", "ERROR"), ("W", "WARN"), ("notice", "INFO"), ("F", "FATAL")],
)
def test_level_field_in_any_spelling(level: str, severity: str) -> None:
    (record,) = records_from_lines([f"12:00:00 {level} disk full"], log_format=LogFormat("<Time> <Level> <Content>"))
    assert record.severity == severity


@pytest.mark.parametrize(
    ("line", "severity"),
    [
        ("2026-11-23 10:00:00 ERROR payment failed", "ERROR"),
        ("[WARN] slow query", "WARN"),
        ("user said error twice", None),
        ("I am fine", None),
    ],
)
def test_unformatted_lines_get_an_upper_case_level_word(line: str, severity: str | None) -> None:
    assert level_of_text(line) == severity


def test_json_lines_carry_level_time_and_trace() -> None:
    line = json.dumps(
        {"message": "charged", "level": "warning", "timestamp": "2026-11-23T10:00:00Z", "trace_id": "abc123"}
    )
    (record,) = records_from_lines([line])
    assert (record.message, record.severity, record.trace_id) == ("charged", "WARN", "abc123")
    assert record.timestamp == datetime(2026, 11, 23, 10, tzinfo=UTC).timestamp()


def test_line_ids_are_file_line_numbers_and_empty_lines_are_skipped() -> None:
    records = records_from_lines(["first", "", "third"])
    assert [(r.line_id, r.message) for r in records] == [(1, "first"), (3, "third")]


def test_a_line_the_format_does_not_fit_is_kept_whole() -> None:
    (record,) = records_from_lines(["no header here"], log_format=LogFormat("<Date> <Time> <Level> <Content>"))
    assert record.message == "no header here"
