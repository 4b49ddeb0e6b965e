"""Policy reads under load: cached GET and conditional GET (304) at 32 connections against gunicorn + Redis.

Starts its own gunicorn on a free port with PostgreSQL and Redis (database `lipservice_bench`, Redis db 3),
publishes a realistic policy, then drives it with wrk (Debian's package; installed when missing). The cache hit
rate comes from the service's own policy-cache counters.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.results import write_section  # noqa: E402

SECTION = "## Policy API"
ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lipservice_bench"),
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
    "LIPSERVICE_API_RATE": "100000000/min",
    "LIPSERVICE_SDK_RATE": "100000000/min",
    "LIPSERVICE_ACCESS_LOG_LEVEL": "WARNING",
}
SETUP = """
import django, json
django.setup()
from django.core.cache import cache
from lipservice.services import api_key_create, team_get_or_create
from patterns.models import Pattern
from patterns.services import service_get_or_create
from policies.services import policy_publish
team, _ = team_get_or_create(name="bench")
service = service_get_or_create(team=team, name="checkout-api")
patterns = [{"id": f"p{i:04d}", "template": f"GET /api/v1/items/<NUM> step {i} <*>", "rate": 0.05, "reason": "bench"}
            for i in range(300)]
for p in patterns:
    Pattern.objects.get_or_create(service=service, pattern_id=p["id"], defaults={"template": p["template"],
                                  "count": 10000, "bytes": 900000, "severity_counts": {"INFO": 10000}})
policy_publish(service=service, actor="bench", document={"service": "checkout-api", "patterns": patterns,
               "severity_rates": {"DEBUG": 0.01, "INFO": 0.1, "WARN": 1, "ERROR": 1, "FATAL": 1}})
cache.clear()
_, key = api_key_create(team=team, name="bench")
print(key)
"""
COUNTERS = """
import django, json
django.setup()
from policies.cache import policy_cache_counters
print(json.dumps(policy_cache_counters()))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def django(code: str, env: dict[str, str]) -> str:
    return (
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )


def wrk(url: str, key: str, *, etag: str | None, seconds: int, connections: int) -> dict[str, float]:
    headers = ["-H", f"Authorization: Bearer {key}"]
    if etag:
        headers += ["-H", f"If-None-Match: {etag}"]
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", *headers, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": latency("50"),
        "p90": latency("90"),
        "p99": latency("99"),
        "requests": requests,
        "errors": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    # The deployment's settings (Dockerfile, compose.yaml): a gthread worker per core, 4 threads each.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    env = {**os.environ, **ENV, "DJANGO_SETTINGS_MODULE": "lipservice.settings"}
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "DROP DATABASE IF EXISTS lipservice_bench"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE lipservice_bench"],
        check=True,
        capture_output=True,
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    key = django(SETUP, env)
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "lipservice.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/api/v1/policies/checkout-api"
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - local bench server
                    etag = response.headers["ETag"]
                    size = len(response.read())
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer")
        wrk(url, key, etag=None, seconds=3, connections=args.connections)  # warm-up
        before = django(COUNTERS, env)
        cached = wrk(url, key, etag=None, seconds=args.seconds, connections=args.connections)
        conditional = wrk(url, key, etag=etag, seconds=args.seconds, connections=args.connections)
        after = django(COUNTERS, env)
    finally:
        server.terminate()
        server.wait(timeout=30)
    import json

    hits = json.loads(after)["hit"] - json.loads(before)["hit"]
    misses = json.loads(after)["miss"] - json.loads(before)["miss"]
    hit_rate = hits / (hits + misses) if hits + misses else 0.0
    command = " ".join(["python bench/policy_api.py", *sys.argv[1:]])
    rows = [
        (f"cached GET (200, policy of 300 patterns, {size:,} bytes)", cached),
        ("conditional GET (304)", conditional),
    ]
    text = (
        f"{SECTION}\n\nCommand: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC), wrk with {args.connections} "
        f"connections for {args.seconds} s per row against gunicorn ({args.workers} {args.worker_class} workers × "
        f"{args.threads} threads) "
        "on this 2-core "
        "machine, PostgreSQL and Redis local; the load generator shares the machine.\n\n"
        "| request | req/s | p50 ms | p90 ms | p99 ms | requests | errors |\n|---|---:|---:|---:|---:|---:|---:|\n"
        + "".join(
            f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['requests']:,} | "
            f"{r['errors']} |\n"
            for name, r in rows
        )
        + f"\nPolicy cache: {hits:,} hits, {misses:,} misses during the measured runs (hit rate {hit_rate:.2%}).\n"
        + "\nEach poll after a key's first is answered by `lipservice.fastpath` in front of Django: one Redis "
        "round trip (rate-limit counter, cached entry, lookup counter) and the cached bytes as the body. The tail "
        "moves from run to run on this machine, where wrk, gunicorn and Redis share two cores: rerun before "
        "comparing.\n"
    )
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
