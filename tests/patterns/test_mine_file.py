"""mine_patterns reads a file in chunks, here or in forked reader processes: the same result however it is cut."""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.signature import template_key

from patterns import mine_file
from patterns.engine.logformat import MAX_LINE_BYTES, ReadStats, line_ranges, read_lines, read_records
from patterns.engine.miner import Miner

ROOT = Path(__file__).resolve().parents[2]


def _mixed_file(path: Path, lines: int, seed: int) -> None:
    """Plain lines (some naming their level: in capitals, in brackets, in a quoted field that masking hides),
    JSON records with levels and times, blank lines, CRLF, invalid UTF-8 and lines that no other line shares a key
    with (so batches of new keys are mined mid-file)."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma"]
    levels = ["info", "ERROR", "warn", "FATAL", "debug", "error"]
    out: list[bytes] = []
    for i in range(lines):
        roll = rng.random()
        if roll < 0.08:
            level = rng.choice(levels)
            out.append(
                rng.choice(
                    [
                        f"2026-12-06 10:00:{i % 60:02d} UTC [{rng.randrange(9999)}] app@db {level.upper()}:  step {i}",
                        f"[{level}] worker {rng.randrange(50)} stalled",
                        f'ts={i} level="{level}" msg="job {rng.randrange(99)}"',
                    ]
                ).encode()
            )
        elif roll < 0.3:
            out.append(
                f"worker {rng.randrange(50)} finished job {rng.randrange(10**6)} in {rng.random():.3f}s".encode()
            )
        elif roll < 0.5:
            record = {
                "timestamp": 1_767_225_600 + i * 0.01 if rng.random() < 0.9 else "2026-12-01T10:00:00Z",
                "level": rng.choice(["info", "ERROR", "warn", 17, "DEBUG", "fatal"]),
                "message": f"request {rng.randrange(10**9):x} took {rng.randrange(900)} ms",
            }
            out.append(json.dumps(record).encode())
        elif roll < 0.6:
            out.append(b"")
        elif roll < 0.7:
            out.append(b"\xc3\x28 broken \xff bytes " + str(rng.randrange(99)).encode() + b"\r")
        elif roll < 0.8:
            dump = " ".join(
                f"{rng.choice(words)}{rng.randrange(9)}={rng.choice(words)}" for _ in range(rng.randint(3, 60))
            )
            out.append(f"context dump: {dump}".encode())
        else:
            out.append(" ".join(rng.choice(words) + rng.choice(words) for _ in range(rng.randint(2, 6))).encode())
    path.write_bytes(b"\n".join(out) + b"\n")


def _mine(path: Path, **options: Any) -> tuple[dict[str, Any], list[list[str]]]:
    assignments = path.with_suffix(f".{options.get('workers')}.csv")
    out = StringIO()
    mine_file.mine_file(
        {"input": path, "json": True, "assignments": assignments, **options}, out, lambda chunks: chunks
    )
    summary = json.loads(out.getvalue())
    del summary["seconds"], summary["lines_per_second"]
    with assignments.open(newline="") as handle:
        return summary, list(csv.reader(handle))


def _small_ranges(monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, **settings: Any) -> None:
    """Fork readers for any file size, over ranges of `chunk_bytes`; `settings` sets other mine_file constants."""
    monkeypatch.setattr(mine_file, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(mine_file, "CHUNK_BYTES", chunk_bytes)
    for name, value in settings.items():
        monkeypatch.setattr(mine_file, name, value)


@pytest.mark.parametrize("log_format", [None, "<Word> <Content>"])
def test_forked_readers_give_what_one_reader_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_format: str | None
) -> None:
    path = tmp_path / "mixed.log"
    _mixed_file(path, 20_000, seed=5)
    # Small ranges and batches: every reader sees many ranges, and batches of new keys close inside ranges.
    _small_ranges(monkeypatch, 9_000, CHUNK_LINES=333, MINE_EVERY_KEYS=700)
    one = _mine(path, workers=1, log_format=log_format)
    three = _mine(path, workers=3, log_format=log_format)
    assert one == three
    summary, rows = one
    assert summary["distinct_keys"] > 3 * 700  # several batches were mined
    assert summary["lines"] == len(rows) - 1
    # LineIds are the file's line numbers, blank lines skipped.
    blank = {n + 1 for n, line in enumerate(path.read_bytes().split(b"\n")[:-1]) if not line.strip()}
    assert [int(row[0]) for row in rows[1:]] == [n for n in range(1, 20_001) if n not in blank]


def _line_by_line(path: Path, every: int) -> list[dict[str, Any]]:
    """The top patterns of a plain line-by-line reading: each record added to a Miner as it is read, a batch mined
    whenever `every` new keys have come since the last batch."""
    miner = Miner()
    keys: set[str] = set()
    mined = 0
    for record in read_records(path):
        key = template_key(record.message)
        if key not in keys:
            if len(keys) - mined >= every:
                miner.mine()
                mined = len(keys)
            keys.add(key)
        miner.add(record.message, severity=record.level, timestamp=record.timestamp)
    miner.mine()
    patterns = miner.patterns()
    total = sum(p.count for p in patterns)
    return [
        {
            "id": p.id,
            "template": p.template,
            "count": p.count,
            "share": round(p.count / total, 4),
            "severities": p.severities,
        }
        for p in patterns[: mine_file.TOP]
    ]


def test_chunked_reading_mines_what_a_line_by_line_reading_mines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.log"
    _mixed_file(path, 8_000, seed=11)
    _small_ranges(monkeypatch, 5_000, MINE_EVERY_KEYS=400)
    summary, _ = _mine(path, workers=2)
    assert summary["distinct_keys"] > 3 * 400
    assert summary["top"] == _line_by_line(path, 400)


def test_chunk_size_does_not_change_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mixed.log"
    _mixed_file(path, 6_000, seed=9)
    monkeypatch.setattr(mine_file, "MINE_EVERY_KEYS", 300)
    results = []
    for lines in (1, 97, 6_000):
        monkeypatch.setattr(mine_file, "CHUNK_LINES", lines)
        results.append(_mine(path, workers=1))
    assert results[0] == results[1] == results[2]


def test_line_ranges_cut_at_line_starts_and_read_every_line_once(tmp_path: Path) -> None:
    rng = random.Random(4)
    path = tmp_path / "ranges.log"
    pieces = [b"a", b"bb ", b"\n", b"\r\n", b"\xe2\x82", b"\xac", b"\xff", b"\n\n", "é😀".encode()]
    body = b"".join(rng.choice(pieces) for _ in range(20_000))
    path.write_bytes(body + b"z" * (MAX_LINE_BYTES + 10) + b"\nlast line without newline")
    whole_stats = ReadStats()
    whole = list(read_lines(path, whole_stats))
    for size in (1, 7, 500, 1 << 16, 1 << 30):
        ranges = line_ranges(path, size)
        assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
        data = path.read_bytes()
        assert all(data[start - 1 : start] == b"\n" for start, _ in ranges[1:])
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        stats = ReadStats()
        assert [line for start, end in ranges for line in read_lines(path, stats, start, end)] == whole
        assert stats.truncated == whole_stats.truncated == 1


def test_an_empty_file_has_no_ranges(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert line_ranges(path, 100) == []


def test_the_command_refuses_no_workers(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("hello\n")
    run = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "mine_patterns", str(path), "--workers", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1 and "--workers: at least 1" in run.stderr


def test_the_command_mines_a_large_file_with_forked_readers(tmp_path: Path) -> None:
    """The whole process, as a user runs it, on a file over PARALLEL_BYTES: the same summary as one reader."""
    path = tmp_path / "big.log"
    _mixed_file(path, 120_000, seed=2)
    assert path.stat().st_size >= mine_file.PARALLEL_BYTES

    def run(workers: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "mine_patterns", str(path), "--json", "--workers", workers],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        summary: dict[str, Any] = json.loads(done.stdout)
        del summary["seconds"], summary["lines_per_second"]
        return summary

    assert run("1") == run("2")


def _die(bounds: tuple[int, int]) -> Any:
    os._exit(9)


def test_a_reader_that_dies_fails_the_command_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.log"
    _mixed_file(path, 3_000, seed=3)
    _small_ranges(monkeypatch, 20_000, _read_range=_die)
    with pytest.raises(mine_file.MiningInputError, match="reader process stopped") as caught:
        _mine(path, workers=2)
    assert isinstance(caught.value.__cause__, BrokenProcessPool)


def test_without_processes_to_fork_the_file_is_read_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mixed.log"
    _mixed_file(path, 3_000, seed=4)
    expected = _mine(path, workers=1)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(mine_file, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", refuse)
    assert _mine(path, workers=2) == expected
