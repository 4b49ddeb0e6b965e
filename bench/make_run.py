"""`make run` on a fresh clone: seconds from the command to a dashboard that serves the demo, by phase.

Clones this checkout's HEAD into a scratch folder (nothing of this checkout's virtualenv or data is reused), runs
`make run PORT=<free port>` there and reads its output as it comes: the phases are timed by the lines the Makefile
and `load_demo` print. Done when gunicorn listens and answers its health check and the dashboard page; then the
server is stopped and the clone removed. The pip cache of the machine is whatever it is (the record says which: a
machine that never installed these wheels downloads them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.results import write_section  # noqa: E402

SECTION = "## Fresh clone: `make run` to a populated dashboard"
BUDGET_SECONDS = 120
# (phase, the line of `make run`'s output that starts it)
PHASES = (
    ("install (venv, pip)", ""),  # from the start
    ("migrate, static files, periodic tasks", "manage.py migrate"),
    ("load_demo (write, analyse, replay, anomaly scan)", "manage.py load_demo"),
    ("admin user, gunicorn start", "manage.py ensure_admin"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def measure(clone: Path, port: int) -> tuple[float, dict[str, float], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_"))}
    started = time.perf_counter()
    marks: dict[str, float] = {PHASES[0][0]: 0.0}
    tail: list[str] = []
    child = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    try:
        for line in child.stdout:
            now = time.perf_counter() - started
            tail = [*tail[-40:], line.rstrip("\n")]
            for phase, marker in PHASES[1:]:
                if phase not in marks and marker in line:
                    marks[phase] = now
                    print(f"make_run: {now:6.1f} s  {phase}", file=sys.stderr, flush=True)
            if "Listening at:" in line:
                break
        else:
            raise SystemExit("\n".join([*tail, "make run stopped before gunicorn listened"]))
        while not answers(port):
            time.sleep(0.1)
        total = time.perf_counter() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/", timeout=10) as response:
            status = response.status
        if status != 200:
            raise SystemExit(f"the dashboard answered {status}")
        return total, marks, tail
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=30)


def populated(clone: Path) -> dict[str, int]:
    """Services, patterns and active policies in the clone's demo database, read through Django."""
    code = (
        "import django, json; django.setup()\n"
        "from patterns.models import Pattern, Service\n"
        "from policies.models import PolicyVersion\n"
        "print(json.dumps({'services': Service.objects.count(), 'patterns': Pattern.objects.count(),"
        " 'active_policies': PolicyVersion.objects.filter(status='active').count()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_"))}
    env["DJANGO_SETTINGS_MODULE"] = "lipservice.settings"
    out = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-c", code], cwd=clone, env=env, check=True, capture_output=True
    )
    return dict(json.loads(out.stdout.decode().strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    parser.add_argument("--no-write", action="store_true", help="print the section without writing RESULTS.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="make_run_"))
    clone = scratch / "lipservice"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # Tests and the demo find the Loghub data beside the checkout; `make run` needs none of it.
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, check=True, capture_output=True, text=True
    ).stdout.strip()
    load_before = os.getloadavg()[0]
    pip_cache = Path.home() / ".cache" / "pip"
    cache_state = "warm (these wheels were downloaded before)" if pip_cache.exists() else "empty"
    total, marks, _ = measure(clone, free_port())
    counts = populated(clone)
    load_after = os.getloadavg()[0]
    starts = [marks.get(phase) for phase, _ in PHASES]
    rows = []
    for index, (phase, _) in enumerate(PHASES):
        begin = starts[index]
        if begin is None:
            continue
        end = next((s for s in starts[index + 1 :] if s is not None), total)
        rows.append(f"| {phase} | {end - begin:.1f} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "within" if total <= BUDGET_SECONDS else "OVER"
    text = "\n".join(
        [
            SECTION,
            "",
            f"Command: `python bench/make_run.py` ({stamp}, commit {commit}). A `git clone` of the checkout, then "
            f"`make run` in it until gunicorn listens and answers; pip cache {cache_state}; load average "
            f"{load_before:.1f} before, {load_after:.1f} after (2 cores).",
            "",
            "| phase | seconds |",
            "|---|---:|",
            *rows,
            f"| **total, command to a serving dashboard** | **{total:.1f}** |",
            "",
            f"{verdict} the {BUDGET_SECONDS} s budget. The demo database then holds {counts['services']} services, "
            f"{counts['patterns']:,} patterns and {counts['active_policies']} active policies.",
        ]
    )
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    if args.keep:
        print(f"clone kept in {clone}", file=sys.stderr)
    else:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
