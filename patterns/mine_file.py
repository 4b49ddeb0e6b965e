"""`mine_patterns` without Django: read a log file, mask and count it, mine the keys, print a summary.

It needs no settings and no database, so `manage.py` runs it before Django starts (start-up is most of the time on a
small file); the Django command of the same name wraps the same function for `call_command`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from lipservice_sdk.severity import normalize_severity
from lipservice_sdk.signature import template_key

from patterns.engine.logformat import LogFormat, ReadStats, parse_json_message, read_lines, read_records
from patterns.engine.miner import Miner

TOP = 10
MINE_EVERY_KEYS = 50_000
NAME = "mine_patterns"
HELP = "Mine INPUT (plain text or JSON lines, .gz allowed) into patterns and print the top ones."


class _Output(Protocol):
    def write(self, msg: str, /) -> object: ...


class MiningInputError(ValueError):
    """A bad argument or input file: the caller turns it into its own usage error."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path)
    parser.add_argument("--log-format", help="Loghub notation, e.g. '<Date> <Time> <Level> <Component>: <Content>'")
    parser.add_argument("--assignments", type=Path, help="Write LineId,PatternId,Template for every line.")
    parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    parser.add_argument("--top", type=int, default=TOP)


def _parse_format(value: str | None) -> LogFormat | None:
    if not value:
        return None
    try:
        return LogFormat(value)
    except ValueError as exc:
        raise MiningInputError(f"--log-format: {exc}") from exc


_Line = tuple[str, str, float | None]  # message, severity, timestamp


def _plain_lines(path: Path, stats: ReadStats) -> Iterator[_Line]:
    """Lines mined whole (no format): only JSON objects are parsed, the rest is read as INFO text."""
    info = normalize_severity(None)
    for line in read_lines(path, stats):
        stats.lines += 1
        if line[:1] == "{" or line[:1].isspace() or not line:
            if not line.strip():
                stats.empty += 1
                continue
            parts = parse_json_message(line) if line.lstrip().startswith("{") else None
            if parts is not None:
                stats.json += 1
                stats.parsed += 1
                yield parts
                continue
        stats.unparsed += 1
        yield line, info, None


def _formatted_lines(path: Path, log_format: LogFormat, stats: ReadStats) -> Iterator[_Line]:
    for record in read_records(path, log_format, stats):
        yield record.message, record.level, record.timestamp


def mine_file(options: dict[str, Any], out: _Output, progress: Callable[[Iterator[Any]], Iterator[Any]]) -> None:
    """Mask and count every line per key (with its severities, bytes and first/last time), then mine the keys."""
    path: Path = options["input"]
    if not path.is_file():
        raise MiningInputError(f"{path}: no such file")
    log_format = _parse_format(options.get("log_format"))
    stats = ReadStats()
    key_index: dict[str, int] = {}
    keys: list[str] = []
    counts: list[int] = []
    sizes: list[int] = []
    examples: list[str] = []
    levels: list[dict[str, int]] = []
    plain: list[int] = []
    info = normalize_severity(None)
    first: list[float | None] = []
    last: list[float | None] = []
    line_ids = array("q")
    line_keys = array("l")
    assign = bool(options.get("assignments"))
    miner = Miner()
    pushed = 0

    def push(upto: int) -> None:
        # Hand the counts gathered so far to the miner and start those keys afresh: a key seen again later adds
        # only its new lines, so nothing is counted twice.
        for index in range(upto):
            if plain[index]:
                tally = levels[index]
                tally[info] = tally.get(info, 0) + plain[index]
                plain[index] = 0
            if counts[index]:
                miner.add_key_counts(
                    keys[index],
                    counts[index],
                    sizes[index],
                    first_seen=first[index],
                    last_seen=last[index],
                    severities=levels[index],
                    example=examples[index],
                )
                counts[index] = sizes[index] = 0
                levels[index] = {}
                first[index] = last[index] = None

    def new_key(key: str, message: str, timestamp: float | None) -> int:
        nonlocal pushed
        index = key_index[key] = len(keys)
        keys.append(key)
        counts.append(0)
        sizes.append(0)
        plain.append(0)
        examples.append(message)
        levels.append({})
        first.append(timestamp)
        last.append(timestamp)
        if index - pushed >= MINE_EVERY_KEYS:
            # Streams whose values the masking cannot see have a key per line: mining a batch lets later keys
            # be matched to its patterns, which is far cheaper than clustering every key at once.
            push(index)
            miner.mine()
            pushed = index
        return index

    started = time.perf_counter()
    key_of = template_key
    if log_format is None and not assign:
        # The common case, a file of plain lines, in one loop: a text line is INFO with no time, so only its
        # count and bytes are kept per line and its severity tally is filled in when the key is handed over.
        get = key_index.get
        for line in progress(read_lines(path, stats)):
            head = line[:1]
            if head == "{" or head.isspace() or not line:
                if head == "{":
                    parts = parse_json_message(line)
                elif not line.strip():
                    stats.empty += 1
                    continue
                else:
                    parts = parse_json_message(line) if line.lstrip().startswith("{") else None
                if parts is not None:
                    stats.json += 1
                    message, level, timestamp = parts
                    key = key_of(message)
                    index = get(key)
                    if index is None:
                        index = new_key(key, message, timestamp)
                    _count_record(index, message, level, timestamp, counts, sizes, levels, first, last)
                    continue
            stats.unparsed += 1
            key = key_of(line)
            index = get(key)
            if index is None:
                index = new_key(key, line, None)
            counts[index] += 1
            plain[index] += 1
            sizes[index] += len(line) if line.isascii() else len(line.encode("utf-8", "replace"))
        stats.lines = stats.empty + stats.json + stats.unparsed
        stats.parsed = stats.json
    else:
        lines = _plain_lines(path, stats) if log_format is None else _formatted_lines(path, log_format, stats)
        for message, level, timestamp in progress(lines):
            key = key_of(message)
            index = key_index.get(key)
            if index is None:
                index = new_key(key, message, timestamp)
            _count_record(index, message, level, timestamp, counts, sizes, levels, first, last)
            if assign:
                line_ids.append(stats.lines)
                line_keys.append(index)
    push(len(keys))
    miner.mine()
    seconds = time.perf_counter() - started
    lines_read = stats.lines - stats.empty
    patterns = miner.patterns()
    by_id = {p.id: p for p in patterns}
    if options.get("assignments"):
        key_pattern = [miner.pattern_of_key(k) or miner.match_key(k) or "" for k in keys]
        with Path(options["assignments"]).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["LineId", "PatternId", "Template"])
            for line_id, index in zip(line_ids, line_keys, strict=True):
                pattern_id = key_pattern[index]
                template = by_id[pattern_id].template if pattern_id in by_id else ""
                writer.writerow([line_id, pattern_id, template])
    total = sum(p.count for p in patterns)
    top = int(options.get("top") or TOP)
    summary = {
        "input": str(path),
        "lines": lines_read,
        "unparsed": stats.unparsed if log_format is not None else 0,
        "truncated": stats.truncated,
        "distinct_keys": len(keys),
        "patterns": len(patterns),
        "seconds": round(seconds, 3),
        "lines_per_second": round(lines_read / seconds) if seconds > 0 else None,
        "top": [
            {
                "id": p.id,
                "template": p.template,
                "count": p.count,
                "share": round(p.count / total, 4) if total else 0.0,
                "severities": p.severities,
            }
            for p in patterns[:top]
        ],
    }
    if options.get("json"):
        out.write(json.dumps(summary, indent=2) + "\n")
        return
    out.write(_text(summary, log_format is not None) + "\n")


def _count_record(
    index: int,
    message: str,
    level: str,
    timestamp: float | None,
    counts: list[int],
    sizes: list[int],
    levels: list[dict[str, int]],
    first: list[float | None],
    last: list[float | None],
) -> None:
    if timestamp is not None:
        seen_first, seen_last = first[index], last[index]
        if seen_first is None or timestamp < seen_first:
            first[index] = timestamp
        if seen_last is None or timestamp > seen_last:
            last[index] = timestamp
    counts[index] += 1
    sizes[index] += len(message) if message.isascii() else len(message.encode("utf-8", "replace"))
    tally = levels[index]
    tally[level] = tally.get(level, 0) + 1


def _text(summary: dict[str, Any], formatted: bool) -> str:
    if not summary["lines"]:
        return f"{summary['input']}: no log lines (the file is empty or holds only blank lines)"
    rows = [
        f"{summary['lines']:,} lines → {summary['distinct_keys']:,} distinct keys → "
        f"{summary['patterns']:,} patterns in {summary['seconds']:.2f}s "
        f"({summary['lines_per_second']:,} lines/s)"
    ]
    if formatted:
        rows.append(f"lines not matching --log-format (mined whole): {summary['unparsed']:,}")
    if summary["truncated"]:
        rows.append(f"lines over 1 MB truncated: {summary['truncated']:,}")
    rows.append(f"\ntop {len(summary['top'])} patterns:")
    for row in summary["top"]:
        rows.append(f"  {row['share']:6.1%} {row['count']:>9,}  {row['id']}  {row['template'][:100]}")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"manage.py {NAME}", description=HELP)
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        mine_file(options, sys.stdout, _tqdm_progress(options))
    except MiningInputError as exc:
        parser.exit(1, f"CommandError: {exc}\n")
    return 0


def _tqdm_progress(options: dict[str, Any]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    if options.get("json") or not sys.stderr.isatty():
        return _identity
    from tqdm import tqdm

    def bar(lines: Iterator[Any]) -> Iterator[Any]:
        return iter(tqdm(lines, unit=" lines", unit_scale=True, file=sys.stderr))

    return bar


def _identity(lines: Iterator[Any]) -> Iterator[Any]:
    return lines
