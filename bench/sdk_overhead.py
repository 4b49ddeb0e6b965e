"""What lipservice-sdk adds to a logging call: the SDK on a logger against plain `logging` to a NullHandler.

Two loggers in one process, both with a NullHandler: the baseline and one with the SDK configured as in production
(policy fetched from a LipService endpoint, stats aggregated for it, kept lines exported over OTLP/HTTP by the
OpenTelemetry SDK's batch processor). Both endpoints are one small local HTTP server in a subprocess that answers
like LipService and PostHog and discards what it gets. Each line is logged once through each logger, alternately,
and every call is timed; the added cost is the SDK logger's median (p99) less the baseline's.

Lines are the demo services' (many distinct ids, numbers and timings), logged as f-strings. Scenarios:
- dropped INFO: the policy samples every pattern at 0 (the first line of each pattern per window is still kept);
- dropped INFO in a trace: the same inside an OpenTelemetry span, so dropped lines are held for error context;
- kept INFO: every pattern at 1, so every line is exported.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from lipservice_sdk import configure_adaptive_logging  # noqa: E402
from lipservice_sdk.signature import signature, template_key  # noqa: E402
from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

from bench.results import write_section  # noqa: E402
from patterns.demo import DEMO_SERVICES, generate  # noqa: E402

SECTION = "## SDK overhead"
SERVICE = "bench-app"
# LipService (policy GET with ETag, stats POST) and PostHog (OTLP/HTTP logs POST) in one throwaway server.
SERVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
POLICY = open(sys.argv[1], "rb").read()
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        if self.headers.get("If-None-Match") == '"bench"':
            self.send_response(304); self.send_header("ETag", '"bench"'); self.end_headers(); return
        self.send_response(200); self.send_header("ETag", '"bench"')
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(POLICY)))
        self.end_headers(); self.wfile.write(POLICY)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 202 if self.path.endswith("/stats") else 200
        body = b"{}"
        self.send_response(status); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@dataclass
class Row:
    name: str
    plain_median: float
    plain_p99: float
    sdk_median: float
    sdk_p99: float
    kept: int
    dropped: int
    added_by_round: list[float]

    @property
    def added_median(self) -> float:
        """The added cost of the typical round (the median over rounds of the per-round median difference)."""
        return statistics.median(self.added_by_round)

    @property
    def added_best(self) -> float:
        """The least-disturbed round: on a shared machine the others carry interference as well as SDK cost."""
        return min(self.added_by_round)

    @property
    def added_p99(self) -> float:
        return self.sdk_p99 - self.plain_p99


def demo_lines(count: int) -> list[str]:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    streams = [generate(service=name, end=end, days=2, scale=0.3) for name in sorted(DEMO_SERVICES)]
    lines: list[str] = []
    for batch in itertools.zip_longest(*streams):
        lines.extend(line.body for line in batch if line is not None and line.severity in {"INFO", "DEBUG"})
        if len(lines) >= count:
            break
    return lines[:count]


def policy_document(lines: list[str], rate: float) -> dict[str, object]:
    """One pattern per template key of the lines, each with its signature, as a mined policy carries them."""
    keys = sorted({template_key(line) for line in lines})
    return {
        "schema": "lipservice.policy/v1",
        "service": SERVICE,
        "version": 1,
        "default_rate": rate,
        "severity_rates": {"TRACE": rate, "DEBUG": rate, "INFO": rate, "WARN": 1.0, "ERROR": 1.0, "FATAL": 1.0},
        "patterns": [
            {"id": f"p{index:04d}", "template": key, "signatures": [signature(key)], "rate": rate, "reason": "bench"}
            for index, key in enumerate(keys)
        ],
    }


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def measure(name: str, lines: list[str], rate: float, *, traced: bool, rounds: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="lipservice-bench-") as tmp:
        policy_path = Path(tmp) / "policy.json"
        policy_path.write_text(json.dumps(policy_document(lines, rate)))
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(policy_path)], stdout=subprocess.PIPE, text=True, env=os.environ
        )
        try:
            assert server.stdout is not None
            url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
            plain = logging.getLogger(f"bench.plain.{name}")
            app = logging.getLogger(f"bench.sdk.{name}")
            for logger in (plain, app):
                logger.handlers[:] = [logging.NullHandler()]
                logger.propagate = False
                logger.setLevel(logging.DEBUG)
            handle = configure_adaptive_logging(
                SERVICE, lipservice_url=url, api_key="lsk_bench", posthog_token="phc_bench", posthog_host=url,  # noqa: S106
                logger=app, cache_dir=tmp, stats_interval=5.0, refresh_interval=60.0,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while handle.stats()["policy_version"] != 1:
                if time.monotonic() > deadline:
                    raise SystemExit("the SDK did not load the bench policy")
                time.sleep(0.05)
            tracer = trace.get_tracer("bench")
            plain_ns: list[int] = []
            sdk_ns: list[int] = []
            added_by_round: list[float] = []
            clock = time.perf_counter_ns
            gc.collect()
            for round_number in range(rounds + 1):  # round 0 warms the caches and is not counted
                for index, line in enumerate(lines):
                    if traced and index % 8 == 0:
                        span = tracer.start_span("request")
                        token = otel_context.attach(trace.set_span_in_context(span))
                    started = clock()
                    plain.info(line)
                    middle = clock()
                    app.info(line)
                    ended = clock()
                    if traced and index % 8 == 7:
                        otel_context.detach(token)
                        span.end()
                    if round_number:
                        plain_ns.append(middle - started)
                        sdk_ns.append(ended - middle)
                if round_number:
                    size = len(lines)
                    added_by_round.append(
                        (statistics.median(sdk_ns[-size:]) - statistics.median(plain_ns[-size:])) / 1000
                    )
            stats = handle.stats()
            handle.shutdown(5.0)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return Row(
        name=name,
        plain_median=statistics.median(plain_ns) / 1000,
        plain_p99=percentile(plain_ns, 0.99),
        sdk_median=statistics.median(sdk_ns) / 1000,
        sdk_p99=percentile(sdk_ns, 0.99),
        kept=stats["kept"],
        dropped=stats["dropped"],
        added_by_round=added_by_round,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    trace.set_tracer_provider(TracerProvider())
    lines = demo_lines(args.lines)
    distinct = len(set(lines))
    rows = []
    for name, rate, traced in (
        ("dropped INFO", 0.0, False),
        ("dropped INFO in a trace (held for error context)", 0.0, True),
        ("kept INFO (exported over OTLP)", 1.0, False),
    ):
        print(f"measuring: {name} ...", file=sys.stderr, flush=True)
        rows.append(measure(name, lines, rate, traced=traced, rounds=args.rounds))
    command = " ".join(["python bench/sdk_overhead.py", *sys.argv[1:]])
    text = (
        f"{SECTION}\n\nCommand: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC), Python "
        f"{sys.version.split()[0]}, one process on this 2-core machine. {len(lines):,} demo lines ({distinct:,} "
        f"distinct) logged {args.rounds} times through each logger after a warm-up round; every call timed. "
        "Baseline: the same logger call to a NullHandler. The SDK runs as in production: policy from a local "
        "LipService endpoint, stats aggregated, kept lines exported by the OpenTelemetry batch processor.\n\n"
        "| line | baseline median µs | SDK median µs | added µs, median round | added µs, best round | "
        "baseline p99 µs | SDK p99 µs | kept | dropped |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "".join(
            f"| {r.name} | {r.plain_median:.2f} | {r.sdk_median:.2f} | {r.added_median:.2f} | {r.added_best:.2f} | "
            f"{r.plain_p99:.2f} | {r.sdk_p99:.2f} | {r.kept:,} | {r.dropped:,} |\n"
            for r in rows
        )
        + "\nAdded cost per round is the SDK logger's median call less the baseline's in the same round; the rounds "
        "differ because this machine's speed varies from second to second (other tenants, the SDK's own threads), "
        "so the median round and the least-disturbed round are both shown.\n"
    )
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
