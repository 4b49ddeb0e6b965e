"""Loghub log formats (`<Date> <Time> <Level>: <Content>`) and readers for text, JSON-lines and gzip log files."""

from __future__ import annotations

import gzip
import importlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from lipservice_sdk.severity import SPELLINGS, normalize_severity

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - google-re2 is a project dependency
    _re2 = None
try:
    _orjson: Any = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - orjson is a project dependency; json reads records alike, slower
    _orjson = None

MAX_LINE_BYTES = 1 << 20
MAX_FALLBACK_SCAN = 2048
LEVEL_FIELDS = ("level", "severity", "severity_text", "levelname", "loglevel", "log_level", "lvl")
MESSAGE_FIELDS = ("body", "message", "msg", "log")
TIME_FIELDS = ("timestamp", "time", "ts", "@timestamp", "datetime")
_LEVEL_NAMES = (*LEVEL_FIELDS, "severity_number")
_FIELD = re.compile(r"<([^<>]+)>")


# The level of a line that carries no structure (no JSON, no format, or a line the format does not fit) is read from
# its first LINE_LEVEL_SCAN characters: the first of a `level=`/`lvl=`/`severity:` field, a known level word of three
# or more letters written in capitals (`ERROR:`, `RAS KERNEL FATAL`), one in brackets in any case (`[error]`,
# Apache's `[core:warn]`, `<crit>`), or Android's one-letter level (`1702  2395 E Tag:`, `E/Tag(  123):`). Words come
# from the one severity reading (lipservice_sdk.severity.SPELLINGS) and are read by it; single letters and words
# that are also plain English in capitals (ALL, CONFIG) only count where the shapes above put them. No match is no
# level (the record then reads as INFO).
LINE_LEVEL_SCAN = 160
_LINE_WORDS = sorted(
    ({w for w in SPELLINGS if len(w) >= 3 and w.isalpha()} - {"all", "config"}) | {"log"}, key=lambda w: (-len(w), w)
)
# PostgreSQL's LOG (between INFO and WARNING in its order, the level of its routine lines) is a level word here only.
_LINE_EXTRA = {"log": "INFO"}
_LINE_LETTERS = {"V": "TRACE", "D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR", "F": "FATAL"}
_LINE_LEVEL_PATTERN = (
    r"(?:^|[^a-zA-Z0-9_.])(?i:log[_.\-]?level|level|lvl|severity)\s*[=:]\s*[\"']?(?:([a-zA-Z]+[0-9]*)|(<))"
    rf"|(?:^|[^A-Za-z0-9_])({'|'.join(w.upper() for w in _LINE_WORDS)})(?:[^A-Za-z0-9_]|$)"
    rf"|[\[<(](?:[A-Za-z0-9_]+:)?((?i:{'|'.join(_LINE_WORDS)}))[\]>):]"
    r"|(?:^|[0-9>] +)([VDIWEF]) +[^ ]+:"
    r"|(?:^| )([VDIWEF])/[^ (]+\("
)
_LINE_LEVEL: Any = (_re2 or re).compile(_LINE_LEVEL_PATTERN)
# Masks that can hide a level word: a line whose template key holds one is read line by line, not once per key.
TEXT_HIDING_MASKS = ("<STR>", "<EMAIL>")


def level_of_text(line: str) -> str | None:
    """The level a line without structure names at its start, None when it names none (see LINE_LEVEL_SCAN)."""
    found = _LINE_LEVEL.search(line[:LINE_LEVEL_SCAN])
    if found is None:
        return None
    field, masked, caps, bracket, letter, slashed = found.groups()
    if letter or slashed:
        return _LINE_LETTERS[letter or slashed]
    if masked:
        return None
    word = field or caps or bracket
    return _LINE_EXTRA.get(word.lower()) or normalize_severity(word, "") or None


def plain_line(line: str) -> ParsedLine:
    """A line read whole: its level from its text, else INFO."""
    return ParsedLine(message=line, level=level_of_text(line) or normalize_severity(None), parsed=False)


@dataclass(frozen=True)
class ParsedLine:
    message: str
    level: str
    fields: Mapping[str, str] = field(default_factory=dict)
    parsed: bool = True
    timestamp: float | None = None


@dataclass
class ReadStats:
    lines: int = 0
    parsed: int = 0
    unparsed: int = 0
    json: int = 0
    empty: int = 0
    truncated: int = 0


class LogFormat:
    """A compiled Loghub format: fields become lazy groups, literal text is a regex where spaces match any whitespace.

    Matching runs on RE2 (linear time) when the literal fragments allow it; otherwise Python's re only scans the
    first MAX_FALLBACK_SCAN characters, so a hostile format or a 1 MB line cannot hang the reader.
    """

    def __init__(self, log_format: str) -> None:
        self.log_format = log_format
        parts = _FIELD.split(log_format)
        self.fields: tuple[str, ...] = tuple(parts[1::2])
        if "Content" not in self.fields:
            raise ValueError(f"log format {log_format!r} has no <Content> field")
        regex = ""
        self._names: dict[str, str] = {}
        for i, part in enumerate(parts):
            if i % 2 == 0:
                regex += re.sub(" +", r"\\s+", part)
            else:
                name = "f_" + re.sub(r"\W", "_", part)
                while name in self._names:
                    name += "_"
                self._names[name] = part
                regex += f"(?P<{name}>.*?)"
        self._regex = "^" + regex + "$"
        self._content_last = self.fields[-1] == "Content" and parts[-1] == ""
        self._re2: Any = None
        if _re2 is not None:
            try:
                self._re2 = _re2.compile(self._regex)
            except Exception:  # any RE2 rejection (lookarounds...) means: use the bounded fallback
                self._re2 = None
        self._re = re.compile(self._regex, re.DOTALL)
        level_names = [f for f in self.fields if f.lower() in LEVEL_FIELDS]
        self._level_field = level_names[0] if level_names else None

    def parse(self, line: str) -> ParsedLine:
        """Fields, content and level of a line; a line that does not fit is unparsed and keeps the whole text."""
        groups = self._match(line)
        if groups is None:
            return plain_line(line)
        values = {self._names[name]: value or "" for name, value in groups.items()}
        if self._level_field:
            level = normalize_severity(values.get(self._level_field))
        else:  # a format without a level field: the level the line names, as for a line without structure
            level = level_of_text(line) or normalize_severity(None)
        return ParsedLine(message=values["Content"], level=level, fields=values)

    def _match(self, line: str) -> dict[str, str] | None:
        if self._re2 is not None:
            found = self._re2.match(line)
            return None if found is None else dict(found.groupdict())
        if len(line) <= MAX_FALLBACK_SCAN:
            match = self._re.match(line)
            return None if match is None else match.groupdict()
        if not self._content_last:
            return None
        match = self._re.match(line[:MAX_FALLBACK_SCAN])
        if match is None:
            return None
        groups = match.groupdict()
        groups["Content"] = (groups.get("Content") or "") + line[MAX_FALLBACK_SCAN:]
        return groups


def parse_json_line(line: str) -> ParsedLine | None:
    """A JSON-lines record (message from body/message/msg/log, level from level/severity/...), None for non-objects."""
    data = _json_object(line)
    if data is None:
        return None
    message, level, timestamp = _json_parts(data, line)
    fields = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in data.items()}
    return ParsedLine(message=message, level=level, fields=fields, timestamp=timestamp)


def parse_json_message(line: str) -> tuple[str, str, float | None] | None:
    """What mining needs of a JSON-lines record (message, level, timestamp), read as parse_json_line reads them.

    Through orjson where it reads the record as json does: orjson rejects what only json accepts (NaN, 1e400, lone
    surrogates, deep nesting), and reads integers past 64 bits as floats, which matters only in a message that is
    not a string or in a level field, so those records are read again by json."""
    if _orjson is not None:
        text = line if line[:1] == "{" and line[-1:] == "}" else line.strip()
        if not text.startswith("{"):
            return None
        try:
            data = _orjson.loads(text)
        except _orjson.JSONDecodeError:
            data = None
        else:
            if not isinstance(data, dict):
                return None
            parts = _parts(data, line, orjson_read=True)
            if parts is not None:
                return parts
    data = _json_object(line)
    return None if data is None else _json_parts(data, line)


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _json_parts(data: Mapping[str, Any], line: str) -> tuple[str, str, float | None]:
    parts = _parts(data, line, orjson_read=False)
    assert parts is not None  # only an orjson reading is ever refused
    return parts


def _parts(data: Mapping[str, Any], line: str, *, orjson_read: bool) -> tuple[str, str, float | None] | None:
    """Message, level and time of a record; None for an orjson reading that json could read otherwise (a message
    that is not a string, or a float in a level field that may have been a long integer)."""
    message: str | None = None
    for name in MESSAGE_FIELDS:
        value = data.get(name)
        if value is not None:
            if isinstance(value, str):
                message = value
            elif orjson_read:
                return None
            else:
                message = json.dumps(value, sort_keys=True, default=str)
            break
    if message is None:
        message = line.strip()
    level_value: Any = None
    for name in _LEVEL_NAMES:
        value = data.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            level_value = value
            break
        if orjson_read and isinstance(value, float):
            return None
    level = _LEVELS.get(level_value)
    if level is None:
        level = normalize_severity(level_value)
        if len(_LEVELS) < _LEVELS_KEPT and (not isinstance(level_value, str) or len(level_value) <= 64):
            _LEVELS[level_value] = level
    return message, level, _timestamp(data)


# A record's level is one of a few spellings: each is read once (normalize_severity is a pure function).
_LEVELS: dict[str | int | None, str] = {}
_LEVELS_KEPT = 1024


_BLOCK_BYTES = 1 << 20


def read_lines(
    path: str | Path, stats: ReadStats | None = None, start: int = 0, end: int | None = None
) -> Iterator[str]:
    """Lines of a plain or .gz file as text: invalid UTF-8 replaced, lines over MAX_LINE_BYTES truncated.

    `start` and `end` read the lines of a byte range of a plain file, both at line starts (see line_ranges)."""
    counters = stats if stats is not None else ReadStats()
    with _open(Path(path)) as handle:
        if start:
            handle.seek(start)
        left = -1 if end is None else end - start
        # Read in blocks and split them: per-line reads cost more than masking a line does.
        rest = b""
        skipping = False
        while left:
            block = handle.read(_BLOCK_BYTES if left < 0 else min(_BLOCK_BYTES, left))
            if not block:
                break
            if left > 0:
                left -= len(block)
            lines = (rest + block).split(b"\n") if rest else block.split(b"\n")
            rest = lines.pop()
            if skipping:
                # The tail of a truncated line runs up to the first newline.
                if not lines:
                    rest = b""
                    continue
                skipping = False
                del lines[0]
            if lines and max(map(len, lines)) < MAX_LINE_BYTES:
                # One decode per block: a newline is never part of a UTF-8 sequence, so invalid bytes are replaced
                # as they would be line by line.
                text = b"\n".join(lines).decode("utf-8", "replace")
                decoded = text.split("\n")
                yield from ([line.rstrip("\r") for line in decoded] if "\r" in text else decoded)
                lines = []
            for raw in lines:
                if len(raw) >= MAX_LINE_BYTES:
                    counters.truncated += 1
                    raw = raw[:MAX_LINE_BYTES]
                yield raw.rstrip(b"\r").decode("utf-8", "replace")
            if len(rest) >= MAX_LINE_BYTES:
                counters.truncated += 1
                yield rest[:MAX_LINE_BYTES].rstrip(b"\r").decode("utf-8", "replace")
                rest = b""
                skipping = True
        if rest and not skipping:
            yield rest.rstrip(b"\r").decode("utf-8", "replace")


def line_ranges(path: str | Path, size: int) -> list[tuple[int, int]]:
    """A plain file cut into byte ranges of about `size` bytes, each starting at the start of a line."""
    total = Path(path).stat().st_size
    cuts = [0]
    with Path(path).open("rb") as handle:
        while cuts[-1] + size < total:
            handle.seek(cuts[-1] + size)
            cut = -1
            while cut < 0:
                piece = handle.read(1 << 16)
                if not piece:
                    break
                found = piece.find(b"\n")
                if found >= 0:
                    cut = handle.tell() - len(piece) + found + 1
            if cut < 0 or cut >= total:
                break
            cuts.append(cut)
    cuts.append(total)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def read_records(
    path: str | Path, log_format: str | LogFormat | None = None, stats: ReadStats | None = None
) -> Iterator[ParsedLine]:
    """Records of a log file: JSON objects by their fields, other lines by the format (or whole), never raising."""
    counters = stats if stats is not None else ReadStats()
    parser = LogFormat(log_format) if isinstance(log_format, str) else log_format
    for line in read_lines(path, counters):
        counters.lines += 1
        record = record_of(line, parser, counters)
        if record is not None:
            yield record


def record_of(line: str, parser: LogFormat | None, counters: ReadStats) -> ParsedLine | None:
    """One line as read_records reads it, counted in `counters` (but for `lines`); None for a blank line."""
    if not line.strip():
        counters.empty += 1
        return None
    record = parse_json_line(line) if line.lstrip().startswith("{") else None
    if record is not None:
        counters.json += 1
    elif parser is not None:
        record = parser.parse(line)
    else:
        record = plain_line(line)
    if record.parsed:
        counters.parsed += 1
    else:
        counters.unparsed += 1
    return record


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _timestamp(data: Mapping[str, Any]) -> float | None:
    for name in TIME_FIELDS:
        value = data.get(name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            try:
                number = float(value)
            except OverflowError:  # an integer past the float range
                continue
            if not math.isfinite(number):  # json reads Infinity and NaN; dividing Infinity would never end
                continue
            # Accept seconds, milliseconds, microseconds or nanoseconds since the epoch.
            while number > 1e11:
                number /= 1000.0
            return number
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None
