"""Mine a log file into patterns and print a summary; needs no database."""

from __future__ import annotations

import csv
import json
import sys
import time
from array import array
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from patterns.engine.logformat import LogFormat, ReadStats, read_records
from patterns.engine.miner import Miner

TOP = 10


def _parse_format(value: str | None) -> LogFormat | None:
    if not value:
        return None
    try:
        return LogFormat(value)
    except ValueError as exc:
        raise CommandError(f"--log-format: {exc}") from exc


class Command(BaseCommand):
    help = "Mine INPUT (plain text or JSON lines, .gz allowed) into patterns and print the top ones."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", type=Path)
        parser.add_argument("--log-format", help="Loghub notation, e.g. '<Date> <Time> <Level> <Component>: <Content>'")
        parser.add_argument("--assignments", type=Path, help="Write LineId,PatternId,Template for every line.")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
        parser.add_argument("--top", type=int, default=TOP)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["input"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        log_format = _parse_format(options["log_format"])
        stats = ReadStats()
        miner = Miner()
        key_index: dict[str, int] = {}
        keys: list[str] = []
        line_ids = array("q")
        line_keys = array("l")
        started = time.perf_counter()
        show = not options["json"] and sys.stderr.isatty()
        with tqdm(unit=" lines", unit_scale=True, disable=not show, file=sys.stderr) as bar:
            for record in read_records(path, log_format, stats):
                key = miner.add(record.message, severity=record.level, timestamp=record.timestamp)
                index = key_index.get(key)
                if index is None:
                    index = key_index[key] = len(keys)
                    keys.append(key)
                line_ids.append(stats.lines)
                line_keys.append(index)
                bar.update()
        miner.mine()
        seconds = time.perf_counter() - started
        patterns = miner.patterns()
        by_id = {p.id: p for p in patterns}
        if options["assignments"]:
            key_pattern = [miner.pattern_of_key(k) or miner.match_key(k) or "" for k in keys]
            with options["assignments"].open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["LineId", "PatternId", "Template"])
                for line_id, index in zip(line_ids, line_keys, strict=True):
                    pattern_id = key_pattern[index]
                    template = by_id[pattern_id].template if pattern_id in by_id else ""
                    writer.writerow([line_id, pattern_id, template])
        total = sum(p.count for p in patterns)
        summary = {
            "input": str(path),
            "lines": len(line_ids),
            "unparsed": stats.unparsed if log_format is not None else 0,
            "truncated": stats.truncated,
            "distinct_keys": len(keys),
            "patterns": len(patterns),
            "seconds": round(seconds, 3),
            "lines_per_second": round(len(line_ids) / seconds) if seconds > 0 else None,
            "top": [
                {
                    "id": p.id,
                    "template": p.template,
                    "count": p.count,
                    "share": round(p.count / total, 4) if total else 0.0,
                    "severities": p.severities,
                }
                for p in patterns[: options["top"]]
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        self._print(summary, log_format is not None)

    def _print(self, summary: dict[str, Any], formatted: bool) -> None:
        if not summary["lines"]:
            self.stdout.write(f"{summary['input']}: no log lines (the file is empty or holds only blank lines)")
            return
        self.stdout.write(
            f"{summary['lines']:,} lines → {summary['distinct_keys']:,} distinct keys → "
            f"{summary['patterns']:,} patterns in {summary['seconds']:.2f}s "
            f"({summary['lines_per_second']:,} lines/s)"
        )
        if formatted:
            self.stdout.write(f"lines not matching --log-format (mined whole): {summary['unparsed']:,}")
        if summary["truncated"]:
            self.stdout.write(f"lines over 1 MB truncated: {summary['truncated']:,}")
        self.stdout.write(f"\ntop {len(summary['top'])} patterns:")
        for row in summary["top"]:
            self.stdout.write(f"  {row['share']:6.1%} {row['count']:>9,}  {row['id']}  {row['template'][:100]}")
