"""A real server's log: a private PostgreSQL cluster under pgbench, then mining and simulation on its log, unformatted.

The cluster (initdb in a temporary folder, its own port and socket) logs every statement, connection and
disconnection; pgbench loads and runs its TPC-B-like script with a reconnect per transaction, and psql runs statements
of which most fail (division by zero, missing relations, duplicate keys, syntax errors). The log is then read as a
user without a format would read it: `manage.py mine_patterns LOG` against Drain3 (bench/mine_streams.py's
alternating whole-process pairs) and `manage.py simulate_policy LOG --window-seconds 0`, whose error count is checked
against the lines PostgreSQL wrote at ERROR, FATAL or PANIC.

Needs PostgreSQL's server binaries (pg_config --bindir, or /usr/lib/postgresql/*/bin); as root, the cluster runs as
the `postgres` user.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from bench.mine_streams import compare  # noqa: E402
from bench.results import write_section  # noqa: E402

SECTION = "## A real server's log: PostgreSQL under pgbench, read without a format"
PORT = 5499
ERROR_LINE = re.compile(r" (ERROR|FATAL|PANIC):  ")


def _bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        path = Path(subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        if (path / "initdb").exists():
            return path
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise SystemExit("PostgreSQL's server binaries (initdb, pg_ctl, pgbench) are not installed")
    return Path(candidates[-1]).parent


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


# Statements of which most fail; `{aid}` is a random account number.
BAD_STATEMENTS = (
    "SELECT abalance / 0 FROM pgbench_accounts WHERE aid = {aid};",
    "SELECT * FROM missing_table_{table};",
    "INSERT INTO pgbench_branches (bid, bbalance) VALUES (1, {aid});",
    "SELEC {aid};",
    "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = {aid};",
    "SELECT abalance FROM pgbench_accounts WHERE aid = {aid};",
)


def _bad_statements(count: int, seed: int) -> str:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        aid = rng.randint(1, 500_000)
        rows.append(rng.choice(BAD_STATEMENTS).format(aid=aid, table=aid % 50))
    return "\n".join(rows) + "\n"


def _quiet(command: list[str], *, check: bool = True) -> None:
    subprocess.run(_as_owner(command), check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_log(folder: Path, transactions: int, seed: int) -> Path:
    """Run the cluster and its workload; returns the server log."""
    bindir = _bindir()
    folder.chmod(0o777)
    data, log = folder / "data", folder / "server.log"
    settings = (
        f"-p {PORT} -k {folder} -c listen_addresses='' -c log_statement=all -c log_connections=on "
        "-c log_disconnections=on -c log_line_prefix='%m [%p] %q%u@%d '"
    )
    _quiet([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    _quiet([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", settings, "-w", "start"])
    try:
        pgbench = [str(bindir / "pgbench"), "-h", str(folder), "-p", str(PORT), "-U", "postgres"]
        _quiet([*pgbench, "-i", "-s", "5", "postgres"])
        half = transactions // 2
        _quiet([*pgbench, "-c", "4", "-j", "2", "-t", str(half // 4), "-C", "postgres"])
        statements = folder / "bad.sql"
        statements.write_text(_bad_statements(3_000, seed))
        statements.chmod(0o644)
        psql = [str(bindir / "psql"), "-h", str(folder), "-p", str(PORT), "-U", "postgres", "-q", "-f"]
        _quiet([*psql, str(statements), "postgres"], check=False)  # most statements fail
        _quiet([*pgbench, "-c", "4", "-j", "2", "-t", str(half // 4), "-C", "postgres"])
    finally:
        _quiet([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    copy = folder / "postgresql.log"
    copy.write_bytes(log.read_bytes())
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=30_000, help="pgbench transactions in all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="copy the server log here")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        path = build_log(Path(temporary), args.transactions, args.seed)
        if args.keep:
            shutil.copyfile(path, args.keep)
        # Timed first: a child forked while this process held the log would count it in its peak memory.
        mined = compare(path, args.runs, None)
        simulated = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "simulate_policy", str(path), "--window-seconds", "0", "--json"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        report = json.loads(simulated.stdout)["report"]
        size, lines, written_errors = path.stat().st_size, 0, 0
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                lines += 1
                written_errors += ERROR_LINE.search(line) is not None
    command = " ".join(["python bench/postgres_log.py", *sys.argv[1:]])
    out = [
        SECTION,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `{command}` ({lines:,} lines, {size / 1e6:.1f} MB; "
        f"{os.cpu_count()} CPUs; no `--log-format` anywhere).",
        "",
        "| | ours | Drain3 |",
        "|---|---:|---:|",
        f"| wall s (median of {args.runs}, whole process) | {mined['ours_wall']:.2f} | {mined['drain_wall']:.2f} |",
        f"| CPU s | {mined['ours_cpu']:.2f} | {mined['drain_cpu']:.2f} |",
        f"| peak MB | {mined['ours_peak']:.0f} | {mined['drain_peak']:.0f} |",
        "",
        f"Ratio (wall, pairwise median): {mined['ratio']:.2f}x. `simulate_policy --window-seconds 0` (target 0.8): "
        f"byte reduction {report['reduction_bytes']:.1%}, errors kept {report['errors_kept']:,} of "
        f"{report['errors_total']:,} (PostgreSQL wrote {written_errors:,} lines at ERROR, FATAL or PANIC), patterns "
        f"covered {report['patterns_covered']} of {report['patterns_total']}, target met: {report['target']['met']}.",
    ]
    result = "\n".join(out) + "\n"
    print(result)
    if report["errors_total"] != written_errors or report["errors_kept"] != written_errors:
        raise SystemExit("the simulation did not count and keep every line PostgreSQL wrote at ERROR or above")
    if not args.no_write:
        write_section(SECTION, result)


if __name__ == "__main__":
    main()
