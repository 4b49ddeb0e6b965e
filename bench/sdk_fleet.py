"""A fleet of 1,000 simulated SDKs polling policies and posting stats against gunicorn + PostgreSQL + Redis.

Sets up its own database (`lipservice_fleet`) and Redis db 4, a team with 10 services that each have a published
policy and an API key, starts gunicorn on a free port and drives it with locust (bench/locustfile_fleet.py,
headless). Records throughput, p50/p95/p99, errors and 429s per request type, then checks that nothing was lost or
counted twice: the `seen` totals of every acknowledged batch must equal what the pattern windows hold.

Rate: the defaults are the real SDK's, a policy poll every 60 s and a stats batch every 30 s, so 1,000 SDKs send
1,000/60 + 1,000/30 = 17 + 33 = 50 req/s. The stats path is the costly one (a batch updates one pattern window per
entry, some 30 UPDATEs): once the offered rate passes what the workers ingest, requests queue past the SDK's 5 s
timeout and nearly all fail, while retried batches add to the load. `--stats-interval 120` (17 + 8 = 25 req/s)
measures the service below that point on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.results import write_section  # noqa: E402

SECTION = "## SDK fleet"
DATABASE = os.environ.get("BENCH_FLEET_DATABASE", "lipservice_fleet")
ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DATABASE}"),
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4"),
    # No rate override: the fleet runs under the default per-key SDK budget it is sized against.
    "LIPSERVICE_ACCESS_LOG_LEVEL": "WARNING",
}
SETUP = """
import django, json, sys
django.setup()
from django.core.cache import cache
from lipservice.services import api_key_create, team_get_or_create
from patterns.models import Pattern
from patterns.services import service_get_or_create
from policies.services import policy_publish
services, patterns_per_service = int(sys.argv[1]), int(sys.argv[2])
team, _ = team_get_or_create(name="fleet")
out = []
for s in range(services):
    name = f"fleet-{s:02d}"
    service = service_get_or_create(team=team, name=name)
    patterns = [{"id": f"p{s:02d}{i:04d}", "template": f"{name} step {i} took <NUM> ms for <*>", "rate": 0.1,
                 "reason": "bench"} for i in range(patterns_per_service)]
    Pattern.objects.bulk_create([Pattern(service=service, pattern_id=p["id"], template=p["template"], count=10000,
                                         bytes=900000, severity_counts={"INFO": 10000}) for p in patterns])
    version = policy_publish(service=service, actor="bench", document={"service": name, "patterns": patterns,
                             "severity_rates": {"DEBUG": 0.01, "INFO": 0.1, "WARN": 1, "ERROR": 1, "FATAL": 1}})
    _, key = api_key_create(team=team, name=name)
    out.append({"name": name, "key": key, "etag": version.etag, "patterns": [p["id"] for p in patterns]})
cache.clear()
print(json.dumps({"services": out}))
"""
COUNTS = """
import django, json
django.setup()
from django.db.models import Count, Sum
from patterns.models import PatternWindow, StatsBatch
seen = dict(PatternWindow.objects.filter(service__team__name="fleet").values_list("service__name")
            .annotate(Sum("sdk_seen")))
batches = dict(StatsBatch.objects.filter(service__team__name="fleet").values_list("service__name")
               .annotate(Count("id")))
print(json.dumps({"seen": seen, "batches": batches}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def django(code: str, env: dict[str, str], *args: str) -> str:
    return (
        subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )


def say(message: str) -> None:
    print(f"fleet: {message}", file=sys.stderr, flush=True)


def post_stats(url: str, key: str, payload: dict[str, Any]) -> int:
    request = urllib.request.Request(  # noqa: S310 - the local bench server
        url + "/api/v1/patterns/stats",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - see above
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_for(url: str, key: str, service: str) -> None:
    # The fleet's keys have the sdk scope: what they may read is their policy.
    for _ in range(150):
        path = f"/api/v1/policies/{service}"
        request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {key}"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=2):  # noqa: S310 - the local bench server
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer")


def server_errors(log: Path) -> Counter[str]:
    """The causes of 5xx answers and lost workers, from gunicorn's output."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    found = Counter(re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Detected|Timeout)\b)", text, re.M))
    # Database errors answered 503 are logged as one warning line, not a traceback.
    found.update(re.findall(r"(database unavailable: [^\n\"]*)", text))
    found.update(re.findall(r"(WORKER TIMEOUT)", text))
    return found


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdks", type=int, default=1000, help="simulated SDK instances (locust users)")
    parser.add_argument("--spawn-rate", type=float, default=100.0, help="SDKs started per second")
    parser.add_argument("--duration", type=int, default=300, help="seconds, ramp-up included")
    parser.add_argument("--poll-interval", type=float, default=60.0, help="seconds between policy polls per SDK")
    parser.add_argument("--stats-interval", type=float, default=30.0, help="seconds between stats batches per SDK")
    parser.add_argument("--cold-share", type=float, default=0.1, help="share of SDKs starting without a cached policy")
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--patterns", type=int, default=40, help="patterns in each service's policy")
    parser.add_argument("--patterns-per-batch", type=int, default=30, help="mean stats entries per minute in a batch")
    parser.add_argument("--resend-share", type=float, default=0.02, help="share of reports that re-send an acked batch")
    # The deployment's settings (Dockerfile, compose.yaml): a gthread worker per core, 4 threads each.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--no-write", action="store_true", help="print the section without writing RESULTS.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleet_"))
    env = {**os.environ, **ENV, "DJANGO_SETTINGS_MODULE": "lipservice.settings"}
    say(f"creating database {DATABASE} and {args.services} services (work files in {work})")
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE}", f"CREATE DATABASE {DATABASE}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    config = json.loads(django(SETUP, env, str(args.services), str(args.patterns)))
    (work / "fleet.json").write_text(json.dumps(config), encoding="utf-8")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gunicorn_log = work / "gunicorn.log"
    bin_dir = Path(sys.executable).parent
    with open(gunicorn_log, "wb") as log:
        server = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "lipservice.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--threads", str(args.threads), "--worker-class", args.worker_class,
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    load_before = os.getloadavg()[0]
    try:
        wait_for(url, config["services"][0]["key"], config["services"][0]["name"])
        say(f"gunicorn on {url}; {args.sdks} SDKs for {args.duration} s (progress every 10 s)")
        ledger_path, locust_log = work / "ledger.json", work / "locust.log"
        locust = subprocess.Popen(
            [str(bin_dir / "locust"), "-f", str(ROOT / "bench" / "locustfile_fleet.py"), "--headless",
             "-u", str(args.sdks), "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--host", url,
             "--reset-stats", "--only-summary", "--loglevel", "WARNING",
             "--fleet-config", str(work / "fleet.json"), "--fleet-ledger", str(ledger_path),
             "--poll-interval", str(args.poll_interval), "--stats-interval", str(args.stats_interval),
             "--patterns-per-batch", str(args.patterns_per_batch), "--resend-share", str(args.resend_share),
             "--cold-share", str(args.cold_share)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert locust.stdout is not None
        with open(locust_log, "w", encoding="utf-8") as log_file:
            for output in locust.stdout:  # locust's own summary goes to the log; the progress lines to the terminal
                log_file.write(output)
                if output.startswith("fleet:"):
                    print(output, end="", file=sys.stderr, flush=True)
        locust.wait()
        load_after = os.getloadavg()[0]
        if not ledger_path.exists():
            tail = locust_log.read_text(encoding="utf-8").splitlines()[-30:]
            raise SystemExit("\n".join([*tail, f"locust exited with {locust.returncode} and wrote no ledger"]))
        ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
        # Batches in flight or unacknowledged when the run stopped: an SDK re-sends them at shutdown.
        say(f"re-sending {len(ledger['pending'])} batches pending at the end of the run")
        unsent = 0
        for done, item in enumerate(ledger["pending"], 1):
            payload = item["payload"]
            if any(post_stats(url, item["key"], payload) == 202 for _ in range(5)):  # any() stops at the first 202
                ledger["acked"][payload["service"]][payload["batch_id"]] = sum(e["seen"] for e in payload["stats"])
            else:
                unsent += 1
            if done % 250 == 0:
                say(f"re-sent {done:,} of {len(ledger['pending']):,}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = json.loads(django(COUNTS, env))
    errors = server_errors(gunicorn_log)
    text = report(args, ledger, stored, unsent, errors, load_before, load_after)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    if "MISMATCH" in text:
        raise SystemExit(f"stats were lost or counted twice; gunicorn's and locust's logs are in {work}")
    shutil.rmtree(work, ignore_errors=True)


def report(
    args: argparse.Namespace,
    ledger: dict[str, Any],
    stored: dict[str, dict[str, int]],
    unsent: int,
    server_exceptions: Counter[str],
    load_before: float,
    load_after: float,
) -> str:
    measured = ledger["statuses"]["measured"]
    run = ledger["statuses"]["run"]

    def count(statuses: dict[str, int], test: Any) -> int:
        return sum(n for status, n in statuses.items() if test(int(status)))

    names = ledger["names"]
    seconds = ledger["measured_seconds"] or 1.0
    violations = ledger["idempotency_violations"]

    def line(label: str, kinds: list[str]) -> str:
        times = [t for kind in kinds for t in ledger["times"].get(names[kind], [])]
        statuses: Counter[str] = Counter()
        for kind in kinds:
            statuses.update(measured.get(names[kind], {}))
        too_many = statuses.get("429", 0)
        # A re-sent batch counted again is answered 202 but is an error all the same.
        failed = count(statuses, lambda s: s == 0 or s >= 400) - too_many + (violations if "resend" in kinds else 0)
        return (
            f"| {label} | {len(times) / seconds:,.1f} | {percentile(times, 0.5):,.0f} | {percentile(times, 0.95):,.0f} "
            f"| {percentile(times, 0.99):,.0f} | {len(times):,} | {failed:,} | {too_many:,} |\n"
        )

    acked_seen = {service: sum(batches.values()) for service, batches in ledger["acked"].items()}
    acked_batches = sum(len(batches) for batches in ledger["acked"].values())
    db_seen, db_batches = sum(stored["seen"].values()), sum(stored["batches"].values())
    mismatched = sorted(
        service
        for service in acked_seen
        if acked_seen[service] != stored["seen"].get(service, 0)
        or len(ledger["acked"][service]) != stored["batches"].get(service, 0)
    )
    run_all = {s: sum(c.get(s, 0) for c in run.values()) for s in {s for c in run.values() for s in c}}
    run_errors = count(run_all, lambda s: s == 0 or (s >= 400 and s != 429))
    policy = measured.get(names["policy"], {})
    resends = measured.get(names["resend"], {})
    rate = args.sdks / args.poll_interval + args.sdks / args.stats_interval
    ramp = args.sdks / args.spawn_rate
    command = " ".join(["python bench/sdk_fleet.py", *sys.argv[1:]])
    verdict = (
        "nothing lost or counted twice"
        if not mismatched and not unsent and not violations
        else f"MISMATCH in {', '.join(mismatched) or 'none'}; {unsent} batches could not be delivered; "
        f"{violations} re-sent batches counted again"
    )
    measured_all: Counter[str] = Counter()
    for statuses in measured.values():
        measured_all.update(statuses)
    no_answer = measured_all.get("0", 0)
    server_failed = count(measured_all, lambda s: s >= 500)
    other = count(measured_all, lambda s: 400 <= s < 500 and s != 429)
    exceptions = ", ".join(f"{name} × {n}" for name, n in server_exceptions.most_common()) or "none"
    return (
        f"{SECTION}\n\n"
        f"Command: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC). {args.sdks:,} simulated SDKs (locust "
        f"FastHttpUser, started at {args.spawn_rate:g}/s, so {ramp:.0f} s of ramp-up in the {args.duration} s run; "
        f"the table covers the {seconds:.0f} s after every SDK had started) over {args.services} services, against "
        f"gunicorn ({args.workers} {args.worker_class} workers × {args.threads} threads), PostgreSQL and Redis on "
        "this 2-core machine; "
        "the load generator shares the machine.\n\n"
        f"Each SDK polls its policy every {args.poll_interval:g} s (±10%) with `If-None-Match` from its policy cache "
        f"({args.cold_share:.0%} start without one and fetch the whole policy first), "
        f"and posts a stats batch in the SDK's payload shape every {args.stats_interval:g} s (about "
        f"{args.patterns_per_batch} entries per minute covered, from a {args.patterns}-pattern policy plus an "
        f"occasional unmatched signature; unique batch ids; an unacknowledged batch is re-sent with its id); "
        f"{args.resend_share:.0%} of reports also re-send an acknowledged batch, which must be answered as a "
        f"duplicate. Offered load {args.sdks:,}/{args.poll_interval:g} + {args.sdks:,}/{args.stats_interval:g} = "
        f"{rate:,.0f} req/s (the real SDK's defaults, 60 s and 30 s, give 50 req/s for 1,000 SDKs).\n\n"
        "| request | req/s | p50 ms | p95 ms | p99 ms | requests | errors | 429 |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        + line("policy poll (200 or 304)", ["policy"])
        + line("stats batch", ["stats"])
        + line("stats batch re-sent after its ack", ["resend"])
        + line("all", ["policy", "stats", "resend"])
        + f"\nErrors in the table: {no_answer:,} without an answer within 5 s (the SDK's request timeout), "
        f"{server_failed:,} × 5xx, {other:,} other. Policy polls answered 304: {policy.get('304', 0):,} of "
        f"{sum(policy.values()):,}. Re-sent acknowledged batches: {count(resends, lambda s: s == 202) - violations:,} "
        f"of {sum(resends.values()):,} answered as duplicates, {violations} counted again. Whole run including "
        f"ramp-up: {sum(run_all.values()):,} requests, {run_errors:,} errors, {run_all.get('429', 0):,} × 429. "
        f"Exceptions in the server's log: {exceptions}.\n\n"
        f"Stats integrity ({verdict}): {acked_batches:,} batches acknowledged ({len(ledger['pending']):,} of them "
        f"pending when the run stopped and re-sent after it), {sum(acked_seen.values()):,} lines `seen`; the "
        f"database holds {db_batches:,} batches and {db_seen:,} `seen` in the pattern windows.\n\n"
        f"Machine load (1-min average, 2 cores): {load_before:.1f} before the run, {load_after:.1f} at its end.\n"
    )


if __name__ == "__main__":
    main()
