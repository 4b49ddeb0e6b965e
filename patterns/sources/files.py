"""Log files as a LogSource: plain text (optionally Loghub-formatted), JSON lines, OTLP JSON exports, gzipped or not."""

from __future__ import annotations

import dataclasses
import glob
import gzip
import io
import json
import os
import re
import uuid as uuid_lib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import IO, Any, Literal

from patterns.engine.logformat import LEVEL_FIELDS as FORMAT_LEVELS
from patterns.engine.logformat import LogFormat
from patterns.sources.base import (
    SourceConfigError,
    SourceFormatError,
    SourceRecord,
    TemplateKeyCount,
    VolumeBucket,
    as_utc,
    check_range,
    severity_of,
    template_keys_from_records,
    volume_from_records,
)

FileFormat = Literal["auto", "text", "jsonl", "otlp"]

BODY_FIELDS = ("body", "message", "msg", "log", "Content", "content")
LEVEL_FIELDS = ("severity_text", "level", "severity", "levelname", "log.level", "Level")
TIME_FIELDS = ("timestamp", "time", "ts", "@timestamp", "datetime", "date")
TRACE_FIELDS = ("trace_id", "traceId", "trace.id", "traceid")
SPAN_FIELDS = ("span_id", "spanId", "span.id", "spanid")
SERVICE_FIELDS = ("service", "service_name", "service.name", "serviceName")
_CONSUMED = frozenset(BODY_FIELDS + LEVEL_FIELDS + TIME_FIELDS + TRACE_FIELDS + SPAN_FIELDS + SERVICE_FIELDS)

_UUID_NAMESPACE = uuid_lib.UUID("6f1c5a4e-8a53-4a55-9c39-2d0f1e5b7a10")
_EPOCH = re.compile(r"\d+(\.\d+)?")
_LEADING_TIME = re.compile(r'\s*\{\s*"(?:timestamp|time|ts|@timestamp)"\s*:\s*"([^"\\]{10,40})"')
_LEVEL_IN_TEXT = re.compile(
    r"(?<![A-Za-z])(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|SEVERE)(?![A-Za-z])", re.IGNORECASE
)
_TIME_IN_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?")


@dataclasses.dataclass(frozen=True, slots=True)
class FileSourceConfig:
    """Records without a readable timestamp take their file's mtime, so a time range still selects whole files."""

    paths: tuple[str, ...]
    format: FileFormat = "auto"
    loghub_format: str | None = None
    default_service: str = "unknown"
    encoding: str = "utf-8"
    # When set, every file read must resolve (symbolic links followed) inside one of these folders.
    roots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.paths:
            raise SourceConfigError("FileSourceConfig.paths is empty")
        for path in self.paths if self.roots else ():
            if not path_under_roots(path, self.roots):
                raise SourceConfigError(outside_roots_message(path, self.roots))
        if self.format not in ("auto", "text", "jsonl", "otlp"):
            raise SourceConfigError(f"unknown file format {self.format!r}")


def path_under_roots(path: str, roots: tuple[str, ...]) -> bool:
    """Does `path` (a file, folder or glob; symbolic links and `..` resolved) stay inside one of `roots`?"""
    static = path
    if glob.has_magic(path):
        static = path[: min(path.index(c) for c in "*?[" if c in path)]
        static = static if static.endswith(os.sep) else os.path.dirname(static)
        if ".." in static.split(os.sep) or ".." in path.split(os.sep):
            return False
    if not os.path.isabs(static):
        return False
    real = os.path.realpath(static)
    for root in roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def outside_roots_message(path: str, roots: tuple[str, ...]) -> str:
    return (
        f"file source {path!r} is outside the folders log files may be read from ({', '.join(roots)}); "
        "the operator sets them with LIPSERVICE_FILE_SOURCE_ROOTS"
    )


class FileLogSource:
    def __init__(self, config: FileSourceConfig) -> None:
        self.config = config
        self._format = _compile_format(config.loghub_format) if config.loghub_format else None

    def files(self) -> list[str]:
        found: list[str] = []
        for pattern in self.config.paths:
            matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
            for path in matches:
                if os.path.isdir(path):
                    found.extend(
                        sorted(p for p in glob.glob(os.path.join(path, "**", "*"), recursive=True) if os.path.isfile(p))
                    )
                elif os.path.isfile(path):
                    found.append(path)
                else:
                    raise SourceConfigError(f"no such log file: {path}")
        for path in found if self.config.roots else ():
            if not path_under_roots(path, self.config.roots):
                raise SourceConfigError(outside_roots_message(path, self.config.roots))
        return found

    def read_all(self, *, time_range: tuple[datetime, datetime] | None = None) -> Iterator[SourceRecord]:
        """Every record of every file, in file order. With `time_range`, JSON lines whose leading timestamp field
        falls outside it may be skipped before parsing (callers still filter: other lines are not)."""
        for path in self.files():
            yield from self._read_file(path, time_range=time_range)

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
        wanted = {severity_of(s) for s in severities} if severities is not None else None
        delivered = 0
        for record in self.read_all(time_range=(start_utc, end_utc)):
            if service is not None and record.service != service:
                continue
            if not start_utc <= record.timestamp < end_utc:
                continue
            if wanted is not None and record.severity not in wanted:
                continue
            yield record
            delivered += 1
            if limit is not None and delivered >= limit:
                return

    def log_volume(
        self, *, service: str | None, start: datetime, end: datetime, bucket: timedelta
    ) -> list[VolumeBucket]:
        return volume_from_records(
            self.fetch_logs(service=service, start=start, end=end), start=start, end=end, bucket=bucket
        )

    def count_template_keys(self, *, service: str | None, start: datetime, end: datetime) -> list[TemplateKeyCount]:
        return template_keys_from_records(self.fetch_logs(service=service, start=start, end=end))

    def _read_file(self, path: str, *, time_range: tuple[datetime, datetime] | None = None) -> Iterator[SourceRecord]:
        mtime = datetime.fromtimestamp(os.path.getmtime(path), tz=UTC)
        context = _FileContext(path=path, mtime=mtime, service=self.config.default_service)
        with _open_text(path, encoding=self.config.encoding) as handle:
            fmt = self.config.format
            if fmt == "auto":
                # A Loghub-style header format describes text lines, whatever their first character.
                fmt = "text" if self._format is not None else _sniff(handle)
            if fmt == "text":
                yield from self._read_text(handle, context)
            else:
                yield from _read_json(handle, context, path=path, time_range=time_range)

    def _read_text(self, handle: IO[str], context: _FileContext) -> Iterator[SourceRecord]:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            parsed = self._format.parse(text) if self._format is not None else None
            level: str | None
            if parsed is not None and parsed.parsed:
                body, level = parsed.message, parsed.level
                fields = dict(parsed.fields)
                stamp = _parse_time(" ".join(fields[k] for k in ("Date", "Time") if fields.get(k)) or None)
                attributes = {k: v for k, v in fields.items() if k != "Content" and k.lower() not in FORMAT_LEVELS}
            else:
                body = text
                found = _LEVEL_IN_TEXT.search(text)
                level = found.group(1) if found else None
                match = _TIME_IN_TEXT.search(text)
                stamp = _parse_time(match.group(0)) if match else None
                attributes = {}
            yield context.record(
                number=number, body=body, level=level, timestamp=stamp, attributes=attributes, resource={}
            )


@dataclasses.dataclass(frozen=True, slots=True)
class _FileContext:
    path: str
    mtime: datetime
    service: str
    namespace: uuid_lib.UUID = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespace", uuid_lib.uuid5(_UUID_NAMESPACE, os.path.abspath(self.path)))

    def record(
        self,
        *,
        number: int,
        body: str,
        level: Any,
        timestamp: datetime | None,
        attributes: Mapping[str, str],
        resource: Mapping[str, str],
        service: str | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        severity_number: int | None = None,
        index: int = 0,
    ) -> SourceRecord:
        # Deterministic ids: re-reading the same file yields the same uuids, so re-runs compare row by row.
        # The file's namespace is hashed once; per line a cheap offset keeps ids unique and stable.
        record_id = uuid_lib.UUID(int=(self.namespace.int + (number << 20) + index) % (1 << 128))
        return SourceRecord(
            uuid=str(record_id),
            timestamp=timestamp or self.mtime,
            body=body,
            severity=severity_of(str(level) if level is not None else None, severity_number),
            service=service or resource.get("service.name") or self.service,
            trace_id=_optional_id(trace_id),
            span_id=_optional_id(span_id),
            attributes=MappingProxyType(dict(attributes)),
            resource_attributes=MappingProxyType(dict(resource)),
            bytes=len(body.encode("utf-8", "replace")),
        )


def _open_text(path: str, *, encoding: str) -> IO[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, errors="replace")
    return open(path, encoding=encoding, errors="replace")


def _sniff(handle: IO[str]) -> FileFormat:
    while True:
        line = handle.readline()
        if not line:
            handle.seek(0)
            return "text"
        if line.strip():
            break
    stripped = line.strip()
    handle.seek(0)
    if stripped.startswith("{"):
        return "jsonl"
    if stripped.startswith("["):
        # A JSON array opens with a bracket, but so do many text logs ("[10.30 16:49:06] chrome.exe ...").
        rest = stripped[1:].lstrip()
        if not rest or rest[0] in '{["]':
            return "jsonl"
        try:
            json.loads(stripped)
        except ValueError:
            return "text"
        return "jsonl"
    return "text"


def _outside(line: str, time_range: tuple[datetime, datetime]) -> bool:
    """True only when the line opens with a timestamp field whose value is surely outside the range."""
    match = _LEADING_TIME.match(line)
    if match is None:
        return False
    moment = _parse_time(match.group(1))
    return moment is not None and not time_range[0] <= moment < time_range[1]


def _read_json(
    handle: IO[str], context: _FileContext, *, path: str, time_range: tuple[datetime, datetime] | None = None
) -> Iterator[SourceRecord]:
    text_lines = iter(handle)
    first_line = ""
    number = 0
    for line in text_lines:
        number += 1
        if line.strip():
            first_line = line
            break
    try:
        first_doc = json.loads(first_line)
    except ValueError:
        # One pretty-printed document (a typical OTLP export), not JSON lines.
        try:
            whole = json.loads(first_line + "".join(text_lines))
        except ValueError as exc:
            raise SourceFormatError(f"{path}: not JSON lines and not one JSON document: {exc}") from exc
        yield from _records_from_document(whole, context, number=number)
        return
    yield from _records_from_document(first_doc, context, number=number)
    for line in text_lines:
        number += 1
        if not line.strip() or (time_range is not None and _outside(line, time_range)):
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise SourceFormatError(f"{path}:{number}: invalid JSON: {exc}") from exc
        yield from _records_from_document(doc, context, number=number)


def _records_from_document(doc: Any, context: _FileContext, *, number: int) -> Iterator[SourceRecord]:
    if isinstance(doc, list):
        for index, item in enumerate(doc):
            yield from _records_from_object(item, context, number=number, index=index)
    else:
        yield from _records_from_object(doc, context, number=number, index=0)


def _records_from_object(doc: Any, context: _FileContext, *, number: int, index: int) -> Iterator[SourceRecord]:
    if not isinstance(doc, Mapping):
        raise SourceFormatError(f"{context.path}:{number}: expected a JSON object, got {type(doc).__name__}")
    if "resourceLogs" in doc:
        yield from _otlp_records(doc, context, number=number)
        return
    body = _first(doc, BODY_FIELDS)
    attributes = {str(k): _as_text(v) for k, v in doc.items() if k not in _CONSUMED}
    yield context.record(
        number=number,
        index=index,
        body=_as_text(body) if body is not None else "",
        level=_first(doc, LEVEL_FIELDS),
        timestamp=_parse_time(_first(doc, TIME_FIELDS)),
        attributes=attributes,
        resource={},
        service=_text_or_none(_first(doc, SERVICE_FIELDS)),
        trace_id=_text_or_none(_first(doc, TRACE_FIELDS)),
        span_id=_text_or_none(_first(doc, SPAN_FIELDS)),
        severity_number=_int_or_none(doc.get("severity_number") or doc.get("severityNumber")),
    )


def _otlp_records(doc: Mapping[str, Any], context: _FileContext, *, number: int) -> Iterator[SourceRecord]:
    index = 0
    for resource_logs in doc.get("resourceLogs") or []:
        resource = _otlp_attributes((resource_logs.get("resource") or {}).get("attributes"))
        for scope_logs in resource_logs.get("scopeLogs") or resource_logs.get("instrumentationLibraryLogs") or []:
            for log in scope_logs.get("logRecords") or []:
                stamp = _nanos(log.get("timeUnixNano")) or _nanos(log.get("observedTimeUnixNano"))
                yield context.record(
                    number=number,
                    index=index,
                    body=_otlp_value(log.get("body")),
                    level=log.get("severityText") or None,
                    severity_number=_severity_number(log.get("severityNumber")),
                    timestamp=stamp,
                    attributes=_otlp_attributes(log.get("attributes")),
                    resource=resource,
                    trace_id=log.get("traceId") or None,
                    span_id=log.get("spanId") or None,
                )
                index += 1


def _otlp_attributes(items: Any) -> dict[str, str]:
    return {str(item.get("key")): _otlp_value(item.get("value")) for item in items or [] if isinstance(item, Mapping)}


def _otlp_value(value: Any) -> str:
    if not isinstance(value, Mapping):
        return "" if value is None else _as_text(value)
    for key in ("stringValue", "intValue", "doubleValue", "boolValue", "bytesValue"):
        if key in value:
            raw = value[key]
            return "true" if raw is True else "false" if raw is False else str(raw)
    if "arrayValue" in value:
        return json.dumps([_otlp_value(v) for v in (value["arrayValue"] or {}).get("values") or []])
    if "kvlistValue" in value:
        return json.dumps(_otlp_attributes((value["kvlistValue"] or {}).get("values")))
    return ""


_OTLP_SEVERITY_NAMES = {
    f"SEVERITY_NUMBER_{name}{suffix}": 4 * bucket + offset + 1
    for bucket, name in enumerate(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
    for offset, suffix in enumerate(("", "2", "3", "4"))
}


def _severity_number(value: Any) -> int | None:
    if isinstance(value, str) and value in _OTLP_SEVERITY_NAMES:
        return _OTLP_SEVERITY_NAMES[value]
    return _int_or_none(value)


def _nanos(value: Any) -> datetime | None:
    number = _int_or_none(value)
    if not number:
        return None
    return datetime.fromtimestamp(number // 1_000_000_000, tz=UTC) + timedelta(microseconds=number % 10**9 // 1000)


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = str(value).strip()
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    candidate = text.replace(",", ".").replace(" ", "T", 1)
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(candidate))
    except ValueError:
        return None


def _from_epoch(number: float) -> datetime:
    # Magnitude tells the unit: seconds until 2286, then milliseconds, microseconds, nanoseconds.
    for divisor in (1.0, 1e3, 1e6, 1e9):
        seconds = number / divisor
        if seconds < 1e10:
            return datetime.fromtimestamp(seconds, tz=UTC)
    return datetime.fromtimestamp(number / 1e9, tz=UTC)


def _first(doc: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        if name in doc and doc[name] not in (None, ""):
            return doc[name]
    return None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else _as_text(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _optional_id(value: str | None) -> str | None:
    return None if not value or set(value) == {"0"} else value


def _compile_format(log_format: str) -> LogFormat:
    try:
        return LogFormat(log_format)
    except ValueError as exc:
        raise SourceConfigError(f"bad Loghub format {log_format!r}: {exc}") from exc
