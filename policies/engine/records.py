"""Log files to replay lines for mining and replay, through the shared log-format reader; LineId is the file line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patterns.engine.logformat import LogFormat, level_of_text, parse_json_line, read_lines
from policies.engine.simulator import ReplayLine

TRACE_FIELDS = ("trace_id", "traceId", "trace", "TraceId")
EPOCH_FIELDS = ("Timestamp", "timestamp", "Epoch")
TIME_FIELDS = ("date", "day", "month", "time", "datetime", "year")
# Common header layouts; a format without a year parses as 1900, which is enough to cut windows.
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S,%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%y/%m/%d %H:%M:%S",
    "%d/%b/%Y:%H:%M:%S",
    "%a %b %d %H:%M:%S %Y",
    "%b %d %H:%M:%S",
    "%Y%m%d-%H:%M:%S:%f",
    "%y%m%d %H%M%S",
    "%m.%d %H:%M:%S",
)


def records_from_lines(lines: Iterable[str], *, log_format: LogFormat | None = None) -> list[ReplayLine]:
    """One record per non-empty line: JSON objects by their fields, other lines by the format, else whole."""
    clock = _HeaderClock(log_format.fields if log_format is not None else ())
    records: list[ReplayLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parsed = parse_json_line(line) if line.lstrip().startswith("{") else None
        if parsed is None and log_format is not None:
            parsed = log_format.parse(line)
        if parsed is not None and parsed.parsed:
            message, fields, timestamp = parsed.message, parsed.fields, parsed.timestamp
            level = parsed.level if _has_level(fields) else level_of_text(line) or parsed.level
        else:
            message, fields, timestamp = line, {}, None
            level = level_of_text(line) or "INFO"
        records.append(
            ReplayLine(
                message=message,
                severity=level,
                timestamp=timestamp if timestamp is not None else _epoch(fields) or clock.parse(fields),
                bytes=len(line.encode("utf-8", "replace")) + 1,
                trace_id=next((fields[name] for name in TRACE_FIELDS if fields.get(name)), None),
                line_id=number,
                attributes=_attributes(fields),
            )
        )
    return records


def records_from_file(path: str | Path, *, log_format: str | None = None) -> list[ReplayLine]:
    return records_from_lines(read_lines(path), log_format=LogFormat(log_format) if log_format else None)


def _attributes(fields: Mapping[str, str]) -> dict[str, Any]:
    """A JSON line's `attributes` object (the reader hands nested values over as JSON text)."""
    text = fields.get("attributes", "")
    if not text.startswith("{"):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _has_level(fields: Mapping[str, str]) -> bool:
    return any(name.lower() in ("level", "severity", "severity_text", "levelname", "loglevel") for name in fields)


def _epoch(fields: Mapping[str, str]) -> float | None:
    for name in EPOCH_FIELDS:
        value = fields.get(name, "")
        if value.isdigit() and 9 <= len(value) <= 10:
            return float(value)
    return None


class _HeaderClock:
    """Seconds from a line's date/time header fields, trying the format that worked last first."""

    def __init__(self, order: Sequence[str]) -> None:
        self._formats = list(TIME_FORMATS)
        self._names = [name for name in order if name.lower() in TIME_FIELDS]

    def parse(self, fields: Mapping[str, str]) -> float | None:
        text = " ".join(fields[name].strip() for name in self._names if fields.get(name))
        if not text:
            return None
        for index, pattern in enumerate(self._formats):
            try:
                moment = datetime.strptime(text, pattern)
            except ValueError:
                continue
            if index:
                self._formats.insert(0, self._formats.pop(index))
            return moment.replace(tzinfo=UTC).timestamp()
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
