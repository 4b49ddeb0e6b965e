"""The `mine_patterns` command on the mining benchmark's 1M-line stream: wall time, lines/s and peak memory."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from bench.mining import build_stream  # noqa: E402
from bench.results import write_section  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Mining: the mine_patterns command"


def run(path: Path) -> dict[str, float]:
    """Run the command as a child and read that child's own peak RSS from wait4."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "mine_patterns", str(path), "--json"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"mine_patterns failed with exit code {child.returncode}")
    summary = json.loads(output)
    return {
        "wall_seconds": round(time.perf_counter() - started, 2),
        "lines": summary["lines"],
        "patterns": summary["patterns"],
        "command_lines_per_second": summary["lines_per_second"],
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stream.log"
        with path.open("w", encoding="utf-8") as handle:
            for line in build_stream(args.lines, args.seed):
                handle.write(line.replace("\n", " ") + "\n")
        result = run(path)
    command = " ".join(["python bench/mine_command.py", *sys.argv[1:]])
    text = (
        f"{SECTION}\n\nCommand: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC). The same varied Loghub stream as "
        "the Mining section, written to a file and mined by `manage.py mine_patterns FILE --json` in a child process; "
        "peak memory is that child's maximum resident set (wait4), including Django start-up.\n\n"
        "| lines | patterns | wall seconds (with start-up) | lines/s (command's own figure) | peak RSS (MB) |\n"
        "|---:|---:|---:|---:|---:|\n"
        f"| {result['lines']:,} | {result['patterns']:,} | {result['wall_seconds']} | "
        f"{result['command_lines_per_second']:,} | {result['peak_rss_mb']} |\n"
    )
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
