"""Whole-process mining against Drain3 on three differently built 1M-line streams (bench/streams.py).

Each run is a fresh process, start-up included: `manage.py mine_patterns FILE --json` against bench/drain3_file.py
(Drain3, named masks, default depth and similarity). Runs alternate A B A B so a drifting machine slows both alike;
the ratio is taken pair by pair and its median reported, with each side's median wall seconds, CPU seconds and peak
memory (the largest sum of resident memory over the process and the reader processes it forks, sampled from /proc
every 20 ms, and never less than the child's own maximum from wait4). CPU seconds include the readers'.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from bench.results import write_section  # noqa: E402
from bench.streams import KINDS, write  # noqa: E402

SECTION = "## Mining: whole process against Drain3 on three streams"


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), read from /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for row in status.splitlines():
            if row.startswith("VmRSS:"):
                total += int(row.split()[1])
    return total


def timed(command: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        # The whole process tree (mine_patterns forks reader processes), sampled every 20 ms.
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_rss_kb(child.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    watcher.join()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command} failed")
    return {
        "wall": time.perf_counter() - started,
        "cpu": usage.ru_utime + usage.ru_stime,  # the child's and its waited-for readers' CPU time
        "peak_mb": max(usage.ru_maxrss, peak[0]) / 1024,
    }


def compare(path: Path, runs: int, workers: int | None) -> dict[str, Any]:
    ours_cmd = [sys.executable, str(ROOT / "manage.py"), "mine_patterns", str(path), "--json"]
    if workers is not None:
        ours_cmd += ["--workers", str(workers)]
    drain_cmd = [sys.executable, str(ROOT / "bench" / "drain3_file.py"), str(path)]
    ours, drain, ratios = [], [], []
    for _ in range(runs):
        a = timed(ours_cmd)
        b = timed(drain_cmd)
        ours.append(a)
        drain.append(b)
        ratios.append(b["wall"] / a["wall"])
        print(path.name, a, b, file=sys.stderr)

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    return {
        "ours_wall": median(ours, "wall"),
        "ours_cpu": median(ours, "cpu"),
        "ours_peak": max(r["peak_mb"] for r in ours),
        "drain_wall": median(drain, "wall"),
        "drain_cpu": median(drain, "cpu"),
        "drain_peak": max(r["peak_mb"] for r in drain),
        "ratio": statistics.median(ratios),
        "cpu_ratio": median(drain, "cpu") / median(ours, "cpu"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--workers", type=int, help="mine_patterns --workers (default: its own, one per CPU)")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds:
            path = write(kind, Path(folder) / f"{kind}.log", args.lines, args.seed)
            rows[kind] = compare(path, args.runs, args.workers)
    command = " ".join(["python bench/mine_streams.py", *sys.argv[1:]])
    out = [
        SECTION,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `{command}` ({args.lines:,} lines per stream, {args.runs} "
        "alternating pairs; medians; peak is the whole process tree's resident memory; CPU includes forked readers; "
        f"{os.cpu_count()} CPUs).",
        "",
        "| stream | ours wall s | ours CPU s | ours peak MB | Drain3 wall s | Drain3 CPU s | Drain3 peak MB "
        "| ratio (wall, pairwise median) | ratio (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in rows.items():
        out.append(
            f"| {kind} | {r['ours_wall']:.2f} | {r['ours_cpu']:.2f} | {r['ours_peak']:.0f} | {r['drain_wall']:.2f} | "
            f"{r['drain_cpu']:.2f} | {r['drain_peak']:.0f} | {r['ratio']:.2f}x | {r['cpu_ratio']:.2f}x |"
        )
    text = "\n".join(out) + "\n"
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
