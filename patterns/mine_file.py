"""`mine_patterns` without Django: read a log file, mask and count it, mine the keys, print a summary.

It needs no settings and no database, so `manage.py` runs it before Django starts (start-up is most of the time on a
small file); the Django command of the same name wraps the same function for `call_command`.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import multiprocessing as mp
import os
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from lipservice_sdk.severity import SEVERITIES, normalize_severity
from lipservice_sdk.signature import template_key

from patterns.engine.logformat import (
    TEXT_HIDING_MASKS,
    LogFormat,
    ReadStats,
    level_of_text,
    line_ranges,
    parse_json_message,
    read_lines,
    record_of,
)
from patterns.engine.miner import Miner
from patterns.engine.redaction import redact_key

TOP = 10
MINE_EVERY_KEYS = 50_000
MAX_WORKERS = 8
CHUNK_BYTES = 1 << 20  # a reader process's share of a file at a time
CHUNK_LINES = 16_384  # lines read at a time in this process
IN_FLIGHT_BYTES = 32 << 20  # read ahead of the miner, at most (a chunk of new keys holds several times its bytes)
PARALLEL_BYTES = 8 << 20  # smaller files are read here: starting readers would cost more than it saves
READER_NICENESS = 5
NAME = "mine_patterns"
HELP = "Mine INPUT (plain text or JSON lines, .gz allowed) into patterns and print the top ones."


class _Output(Protocol):
    def write(self, msg: str, /) -> object: ...


class MiningInputError(ValueError):
    """A bad argument or input file, or a file that could not be read: the caller turns it into its usage error."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path)
    parser.add_argument("--log-format", help="Loghub notation, e.g. '<Date> <Time> <Level> <Component>: <Content>'")
    parser.add_argument("--assignments", type=Path, help="Write LineId,PatternId,Template for every line.")
    parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    parser.add_argument("--top", type=int, default=TOP)
    parser.add_argument(
        "--workers",
        type=int,
        help=f"Processes that read and mask a large plain file (default: one per CPU, at most {MAX_WORKERS}; "
        "1 reads it in this process). The result is the same whatever the number.",
    )


def _parse_format(value: str | None) -> LogFormat | None:
    if not value:
        return None
    try:
        return LogFormat(value)
    except ValueError as exc:
        raise MiningInputError(f"--log-format: {exc}") from exc


class _Chunk:
    """What reading a run of lines gives back: per record its reader-local key id, bytes, level and time, and the
    keys this reader had not handed back before (with the first message and record position of each)."""

    __slots__ = (
        *("examples", "firsts", "ids", "keys", "levels", "line_numbers", "reader", "redacted", "sizes", "stats"),
        "times",
    )

    def __init__(self, reader: int) -> None:
        self.reader = reader
        self.keys: list[str] = []
        self.redacted: list[str | None] = []  # redact_key of each key, None where it is the key itself
        self.examples: list[str] = []
        self.firsts = array("q")
        self.ids = array("q")
        self.sizes = array("q")
        self.levels = array("B")
        self.times = array("d")
        self.line_numbers = array("q")
        self.stats = ReadStats()


_LEVEL_CODES = {name: code for code, name in enumerate(SEVERITIES)}
_READER_KEYS_KEPT = 200_000  # a reader forgets the keys it has handed back past this; the merger knows them anyway


class _Reader:
    """Reads lines into chunks: JSON objects by their fields, other lines by --log-format or whole (level_of_text)."""

    def __init__(self, log_format: LogFormat | None, assign: bool) -> None:
        self.log_format = log_format
        self.assign = assign
        self.seen: dict[str, int] = {}
        self.line_codes: dict[int, int] = {}  # key id -> level code of its plain-text lines, where one holds for all
        self.next_id = 0
        self.reader = os.getpid()

    def chunk(self, lines: Iterable[str], stats: ReadStats) -> _Chunk:
        if os.getpid() != self.reader:  # a forked copy: its key ids start afresh under its own name
            self.seen = {}
            self.line_codes = {}
            self.next_id = 0
            self.reader = os.getpid()
        out = _Chunk(self.reader)
        counted = out.stats
        seen = self.seen
        get = seen.get
        key_of = template_key
        codes = _LEVEL_CODES
        nan = math.nan
        ids, sizes, levels, times = out.ids, out.sizes, out.levels, out.times
        parser = self.log_format
        info_level = normalize_severity(None)
        line_codes = self.line_codes
        numbered = self.assign
        number = 0
        for line in lines:
            number += 1
            if parser is None:
                head = line[:1]
                parts = None
                if head == "{" or head.isspace() or not line:
                    if head == "{":
                        parts = parse_json_message(line)
                    elif not line.strip():
                        counted.empty += 1
                        continue
                    elif line.lstrip().startswith("{"):
                        parts = parse_json_message(line)
                if parts is not None:
                    counted.json += 1
                    message, level, timestamp = parts
                    code = codes[level]
                else:
                    counted.unparsed += 1
                    message, code, timestamp = line, -1, None  # its level is read below, once per key
            else:
                record = record_of(line, parser, counted)
                if record is None:
                    continue
                message, code, timestamp = record.message, codes[record.level], record.timestamp
            key = key_of(message)
            local = get(key)
            if local is None:
                if len(seen) >= _READER_KEYS_KEPT:
                    seen.clear()
                    line_codes.clear()
                local = seen[key] = self.next_id
                self.next_id += 1
                out.keys.append(key)
                stored = redact_key(key)
                out.redacted.append(None if stored == key else stored)
                out.examples.append(message)
                out.firsts.append(len(ids))
            if code < 0:
                code = line_codes.get(local, -1)
                if code < 0:
                    code = codes[level_of_text(message) or info_level]
                    # Lines of one key differ only in masked values: a level read from one holds for all, unless
                    # a mask can hide words (a quoted level="error"), where each line is read.
                    if not any(mask in key for mask in TEXT_HIDING_MASKS):
                        line_codes[local] = code
            ids.append(local)
            sizes.append(len(message) if message.isascii() else len(message.encode("utf-8", "replace")))
            levels.append(code)
            times.append(nan if timestamp is None else timestamp)
            if numbered:
                out.line_numbers.append(number)
        counted.lines = number
        if parser is None:
            counted.parsed = counted.json
        counted.truncated = stats.truncated
        return out


# A forked reader process finds its reader here (set before the pool starts).
_READER: _Reader | None = None
_PATH: Path | None = None


def _read_range(bounds: tuple[int, int]) -> _Chunk:
    assert _READER is not None and _PATH is not None
    stats = ReadStats()
    return _READER.chunk(read_lines(_PATH, stats, *bounds), stats)


class _Tally:
    """Counts per key (lines, bytes, levels, first and last time), merged chunk by chunk in file order, handing the
    counts to the miner every MINE_EVERY_KEYS new keys exactly as a line-by-line reading would."""

    def __init__(self, miner: Miner, assign: bool) -> None:
        self.miner = miner
        self.key_index: dict[str, int] = {}
        self.keys: list[str] = []
        self.redacted: list[str | None] = []
        self.examples: list[str] = []
        self.counts = np.zeros(1024, np.int64)
        self.sizes = np.zeros(1024, np.int64)
        self.levels = np.zeros((1024, len(SEVERITIES)), np.int64)
        self.first = np.full(1024, np.inf)
        self.last = np.full(1024, -np.inf)
        self.readers: dict[int, np.ndarray] = {}
        self.mapped: dict[int, int] = {}
        self.pushed = 0
        self.stats = ReadStats()
        self.assign = assign
        self.line_ids: list[np.ndarray] = []
        self.line_keys: list[np.ndarray] = []

    def add(self, chunk: _Chunk) -> None:
        ids = np.frombuffer(chunk.ids, np.int64)
        mapping = self.readers.get(chunk.reader)
        if mapping is None:
            mapping = self.readers[chunk.reader] = np.zeros(1024, np.int64)
        mapped = self.mapped.get(chunk.reader, 0)
        if mapped + len(chunk.keys) > len(mapping):
            mapping = self.readers[chunk.reader] = _grown(mapping, mapped + len(chunk.keys))
        self._reserve(len(self.keys) + len(chunk.keys))
        done = 0
        key_index, keys, examples, redacted = self.key_index, self.keys, self.examples, self.redacted
        fresh = zip(chunk.keys, chunk.redacted, chunk.examples, chunk.firsts, strict=True)
        for key, stored, example, first in fresh:
            index = key_index.get(key)
            if index is None:
                index = len(keys)
                if index - self.pushed >= MINE_EVERY_KEYS:
                    # Streams whose values the masking cannot see have a key per line: mining a batch lets later
                    # keys be matched to its patterns, which is far cheaper than clustering every key at once.
                    self._count(chunk, ids[done:first], mapping, done)
                    done = first
                    self.push(index)
                    self.miner.mine()
                    self.pushed = index
                key_index[key] = index
                keys.append(key)
                redacted.append(key if stored is None else stored)
                examples.append(example)
            mapping[mapped] = index
            mapped += 1
        self.mapped[chunk.reader] = mapped
        self._count(chunk, ids[done:], mapping, done)
        if self.assign:
            self.line_ids.append(np.frombuffer(chunk.line_numbers, np.int64) + self.stats.lines)
            self.line_keys.append(mapping[ids])
        stats = self.stats
        for name in ("lines", "empty", "json", "parsed", "unparsed", "truncated"):
            setattr(stats, name, getattr(stats, name) + getattr(chunk.stats, name))

    def _reserve(self, size: int) -> None:
        if size > len(self.counts):
            self.counts = _grown(self.counts, size)
            self.sizes = _grown(self.sizes, size)
            self.levels = _grown(self.levels, size)
            self.first = _grown(self.first, size, np.inf)
            self.last = _grown(self.last, size, -np.inf)

    def _count(self, chunk: _Chunk, ids: np.ndarray, mapping: np.ndarray, offset: int) -> None:
        if not len(ids):
            return
        end = offset + len(ids)
        keys, inverse = np.unique(mapping[ids], return_inverse=True)
        lines = np.bincount(inverse, minlength=len(keys))
        self.counts[keys] += lines
        sizes = np.frombuffer(chunk.sizes, np.int64)[offset:end]
        self.sizes[keys] += np.bincount(inverse, weights=sizes, minlength=len(keys)).round().astype(np.int64)
        levels = np.frombuffer(chunk.levels, np.uint8)[offset:end]
        width = len(SEVERITIES)
        tally = np.bincount(inverse * width + levels, minlength=len(keys) * width).reshape(len(keys), width)
        self.levels[keys] += tally
        times = np.frombuffer(chunk.times, np.float64)[offset:end]
        timed = ~np.isnan(times)
        if timed.any():
            at, when = inverse[timed], times[timed]
            first = np.full(len(keys), np.inf)
            last = np.full(len(keys), -np.inf)
            np.minimum.at(first, at, when)
            np.maximum.at(last, at, when)
            self.first[keys] = np.minimum(self.first[keys], first)
            self.last[keys] = np.maximum(self.last[keys], last)

    def push(self, upto: int) -> None:
        """Hand the counts gathered so far to the miner and start those keys afresh: a key seen again later adds only
        its new lines, so nothing is counted twice."""
        counted = np.flatnonzero(self.counts[:upto])
        if not len(counted):
            return
        counts = self.counts[counted].tolist()
        sizes = self.sizes[counted].tolist()
        levels = self.levels[counted].tolist()
        first = self.first[counted].tolist()
        last = self.last[counted].tolist()
        keys, examples, redacted, add = self.keys, self.examples, self.redacted, self.miner.add_key_counts
        for i, index in enumerate(counted.tolist()):
            add(
                keys[index],
                counts[i],
                sizes[i],
                first_seen=None if first[i] == math.inf else first[i],
                last_seen=None if last[i] == -math.inf else last[i],
                severities={SEVERITIES[code]: n for code, n in enumerate(levels[i]) if n},
                example=examples[index],
                redacted=redacted[index],
            )
        self.counts[counted] = 0
        self.sizes[counted] = 0
        self.levels[counted] = 0
        self.first[counted] = np.inf
        self.last[counted] = -np.inf


def _grown(values: np.ndarray, size: int, fill: float = 0) -> np.ndarray:
    grown = np.full((max(size, 2 * len(values)), *values.shape[1:]), fill, values.dtype)
    grown[: len(values)] = values
    return grown


def default_workers() -> int:
    """One reader per CPU this process may run on, at most MAX_WORKERS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, usable))


def _chunks(path: Path, log_format: LogFormat | None, assign: bool, workers: int) -> Iterator[_Chunk]:
    """The file's lines as chunks in file order: read by `workers` forked processes a byte range each when the file
    is a large plain one, else here, CHUNK_LINES lines at a time."""
    global _READER, _PATH
    reader = _Reader(log_format, assign)
    plain = path.suffix != ".gz"
    if workers > 1 and plain and path.stat().st_size >= PARALLEL_BYTES and "fork" in mp.get_all_start_methods():
        _READER, _PATH = reader, path
        # Readers yield to this process: when it mines a batch, it is the one everything else waits for. A reader
        # that dies (killed for memory, say) fails the command instead of leaving it waiting.
        pool = ProcessPoolExecutor(
            workers, mp_context=mp.get_context("fork"), initializer=os.nice, initargs=(READER_NICENESS,)
        )
        try:
            todo = iter(line_ranges(path, CHUNK_BYTES))
            # Readers go on while the miner mines a batch, up to IN_FLIGHT_BYTES of the file read ahead.
            ahead = max(4 * workers, IN_FLIGHT_BYTES // CHUNK_BYTES)
            try:
                pending = deque(pool.submit(_read_range, bounds) for bounds in itertools.islice(todo, ahead))
            except OSError:  # no process to be had (a process limit): read the file in this process
                pending = deque()
                todo = iter(())
                workers = 1
            while pending:
                try:
                    chunk = pending.popleft().result()
                except BrokenProcessPool as exc:
                    raise MiningInputError(
                        "a reader process stopped before it finished (out of memory?); --workers 1 reads the file "
                        "in one process"
                    ) from exc
                pending.extend(pool.submit(_read_range, bounds) for bounds in itertools.islice(todo, 1))
                yield chunk
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            _READER = _PATH = None
        if workers > 1:
            return
    stats = ReadStats()
    lines = read_lines(path, stats)
    while True:
        batch = list(itertools.islice(lines, CHUNK_LINES))
        if not batch:
            return
        chunk = reader.chunk(batch, stats)
        stats.truncated = 0  # counted in the chunk that read them
        yield chunk


def mine_file(options: dict[str, Any], out: _Output, progress: Callable[[Iterator[Any]], Iterator[Any]]) -> None:
    """Mask and count every line per key (with its severities, bytes and first/last time), then mine the keys."""
    path: Path = options["input"]
    if not path.is_file():
        raise MiningInputError(f"{path}: no such file")
    log_format = _parse_format(options.get("log_format"))
    workers = options.get("workers")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise MiningInputError("--workers: at least 1")
    assign = bool(options.get("assignments"))
    miner = Miner()
    tally = _Tally(miner, assign)
    started = time.perf_counter()
    for chunk in progress(_chunks(path, log_format, assign, workers)):
        tally.add(chunk)
    tally.push(len(tally.keys))
    miner.mine()
    seconds = time.perf_counter() - started
    stats = tally.stats
    keys = tally.keys
    lines_read = stats.lines - stats.empty
    patterns = miner.patterns()
    by_id = {p.id: p for p in patterns}
    if options.get("assignments"):
        key_pattern = [miner.pattern_of_key(k) or miner.match_key(k) or "" for k in keys]
        with Path(options["assignments"]).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["LineId", "PatternId", "Template"])
            for ids, indexes in zip(tally.line_ids, tally.line_keys, strict=True):
                for line_id, index in zip(ids.tolist(), indexes.tolist(), strict=True):
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

    def bar(chunks: Iterator[Any]) -> Iterator[Any]:
        # The first chunk is asked for before the bar starts its monitor thread, so readers fork from one thread.
        first = next(chunks, None)
        if first is None:
            return
        with tqdm(unit=" lines", unit_scale=True, file=sys.stderr) as shown:
            for chunk in itertools.chain((first,), chunks):
                yield chunk
                shown.update(chunk.stats.lines)

    return bar


def _identity(lines: Iterator[Any]) -> Iterator[Any]:
    return lines
