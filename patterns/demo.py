"""A deterministic generator of realistic application logs for three demo services over a span of days."""

from __future__ import annotations

import gzip
import json
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_SERVICES: dict[str, str] = {
    "checkout-api": "HTTP API for carts, orders and payments",
    "payments-worker": "Celery worker capturing and refunding payments",
    "search-gateway": "Search front end over an Elasticsearch cluster",
}

_PATHS = [
    "/api/v1/products/{id}",
    "/api/v1/cart/{id}",
    "/api/v1/orders/{id}",
    "/api/v1/users/{id}/addresses",
    "/api/v1/checkout",
    "/api/v1/products",
    "/api/v1/search",
]
_METHODS = ["GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"]
_TABLES = ["orders", "order_items", "carts", "products", "users", "payments"]
_BANKS = ["stripe", "adyen", "braintree"]
_QUERIES = ["red shoes", "usb-c cable", "coffee grinder", "desk lamp", "yoga mat", "wireless mouse", "tent"]


@dataclass(frozen=True)
class DemoLine:
    timestamp: datetime
    service: str
    severity: str
    body: str
    trace_id: str
    attributes: dict[str, str]

    def as_json(self) -> str:
        return json.dumps(
            {
                "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
                "service": self.service,
                "severity": self.severity,
                "body": self.body,
                "trace_id": self.trace_id,
                "attributes": self.attributes,
            },
            separators=(",", ":"),
        )


def _traffic(t: datetime) -> float:
    """Relative load: a daily curve peaking mid-afternoon UTC, quieter weekends."""
    hour = t.hour + t.minute / 60
    daily = 0.55 + 0.45 * math.sin((hour - 9) / 24 * 2 * math.pi)
    weekend = 0.6 if t.weekday() >= 5 else 1.0
    return max(0.15, daily) * weekend


class _Gen:
    def __init__(self, rng: random.Random, service: str) -> None:
        self.rng = rng
        self.service = service
        self.out: list[DemoLine] = []

    def trace(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def rid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def emit(self, t: datetime, severity: str, body: str, trace_id: str = "", **attributes: str) -> None:
        self.out.append(DemoLine(t, self.service, severity, body, trace_id, attributes))

    def ms(self, t: datetime, spread: float = 0.5) -> datetime:
        return t + timedelta(milliseconds=self.rng.uniform(0, spread * 1000))


def _stack(rng: random.Random, exc: str, message: str, frames: list[str]) -> str:
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  File "/app/{frame}", line {rng.randint(20, 400)}, in {frame.split("/")[-1][:-3]}_handler')
    lines.append(f"{exc}: {message}")
    return "\n".join(lines)


def _checkout_minute(g: _Gen, t: datetime, load: float, incident: bool) -> None:
    r = g.rng
    for _ in range(4):
        g.emit(
            g.ms(t, 59),
            "INFO",
            f"GET /healthz 200 {r.randint(0, 3)}ms",
            ip=f"10.0.{r.randint(0, 3)}.{r.randint(2, 250)}",
        )
    for _ in range(int(r.gauss(22 * load, 3))):
        trace, at = g.trace(), g.ms(t, 59)
        method = r.choice(_METHODS)
        path = r.choice(_PATHS).format(id=r.randint(1000, 99999))
        user = f"u_{r.randint(1, 40000)}"
        g.emit(at, "DEBUG", f"cache {'hit' if r.random() < 0.8 else 'miss'} key=session:{user}", trace)
        for _ in range(r.randint(1, 3)):
            table = r.choice(_TABLES)
            g.emit(
                g.ms(at, 0.05),
                "DEBUG",
                f"SELECT * FROM {table} WHERE id = {r.randint(1, 10**6)} ({r.uniform(0.2, 9):.2f}ms)",  # noqa: S608
                trace,
            )
        status = 200 if method == "GET" else r.choice([200, 201, 204])
        latency = int(r.lognormvariate(3.2, 0.5))
        if (incident and path.startswith("/api/v1/checkout")) or (incident and r.random() < 0.25):
            status, latency = 503, latency + 2000
        elif r.random() < 0.01:
            status = r.choice([400, 404, 409])
        if status == 503:
            g.emit(
                g.ms(at, 0.2),
                "WARN",
                f"upstream payments-service timed out after {latency}ms, retrying attempt={r.randint(1, 3)}",
                trace,
            )
            g.emit(
                g.ms(at, 0.3),
                "ERROR",
                _stack(
                    r,
                    "payments.errors.UpstreamTimeout",
                    f"payments-service did not answer within 2000ms (order {r.randint(10**5, 10**6)})",
                    ["checkout/views.py", "payments/client.py", "http/retry.py"],
                ),
                trace,
            )
        g.emit(
            g.ms(at, 0.3),
            "INFO",
            f"{method} {path} HTTP/1.1 {status} {r.randint(200, 9000)}B {latency}ms request_id={g.rid()}",
            trace,
            http_status=str(status),
            user_id=user,
        )
        if method == "POST" and path == "/api/v1/checkout" and status < 400:
            g.emit(
                g.ms(at, 0.4),
                "INFO",
                f"order {r.randint(10**5, 10**6)} placed by {user} total={r.uniform(5, 400):.2f} EUR",
                trace,
            )
    if incident and t.minute < 8:
        # Clients retrying failed checkouts re-read their sessions: a storm of a sampled DEBUG pattern, which the
        # policy's anomaly boost keeps at a higher rate while it lasts.
        for _ in range(300):
            g.emit(g.ms(t, 59), "DEBUG", f"cache hit key=session:u_{r.randint(1, 40000)}", g.trace())
    if r.random() < 0.02 * load:
        g.emit(
            g.ms(t, 59),
            "ERROR",
            _stack(
                r,
                "django.db.utils.OperationalError",
                'could not obtain lock on row in relation "carts"',
                ["carts/services.py", "django/db/models/query.py"],
            ),
            g.trace(),
        )
    if r.random() < 0.05:
        g.emit(g.ms(t, 59), "WARN", f"slow query on {r.choice(_TABLES)}: {r.randint(500, 4000)}ms (threshold 500ms)")
    if t.minute % 5 == 0:
        g.emit(t, "INFO", f"connection pool stats: active={r.randint(1, 20)} idle={r.randint(0, 10)} waiting=0")


def _worker_minute(g: _Gen, t: datetime, load: float, incident: bool) -> None:
    r = g.rng
    g.emit(g.ms(t, 1), "DEBUG", f"celery@worker-{r.randint(1, 4)} heartbeat ok, {r.randint(0, 8)} tasks active")
    for _ in range(int(r.gauss(9 * load, 2))):
        trace, at, task = g.trace(), g.ms(t, 59), g.rid()
        name = r.choice(["payments.capture", "payments.capture", "payments.refund", "payments.reconcile"])
        g.emit(at, "INFO", f"Task {name}[{task}] received", trace)
        g.emit(
            g.ms(at, 0.1),
            "DEBUG",
            f"POST https://api.{r.choice(_BANKS)}.com/v1/charges 200 in {r.randint(80, 900)}ms",
            trace,
        )
        if incident or r.random() < 0.02:
            g.emit(
                g.ms(at, 0.5),
                "WARN",
                f"Task {name}[{task}] retry: ConnectionResetError(104, 'Connection reset by peer') "
                f"in {r.randint(1, 30)}s",
                trace,
            )
            if incident and r.random() < 0.5:
                g.emit(
                    g.ms(at, 0.6),
                    "ERROR",
                    _stack(
                        r,
                        "payments.errors.GatewayUnavailable",
                        f"gateway {r.choice(_BANKS)} returned 502 for charge ch_{r.getrandbits(48):012x}",
                        ["payments/tasks.py", "payments/gateways.py"],
                    ),
                    trace,
                )
                continue
        g.emit(g.ms(at, 0.5), "INFO", f"Task {name}[{task}] succeeded in {r.uniform(0.05, 2.5):.3f}s: None", trace)
    if t.minute == 0:
        g.emit(
            t, "INFO", f"reconciliation batch {r.randint(1000, 9999)} finished: {r.randint(100, 900)} payments matched"
        )


def _search_minute(g: _Gen, t: datetime, load: float, incident: bool) -> None:
    r = g.rng
    for _ in range(int(r.gauss(14 * load, 3))):
        trace, at = g.trace(), g.ms(t, 59)
        q = r.choice(_QUERIES)
        g.emit(at, "DEBUG", f'parsed query "{q}" into {r.randint(1, 6)} terms', trace)
        took = r.randint(3, 80) + (r.randint(800, 3000) if incident else 0)
        g.emit(
            g.ms(at, 0.05), "INFO", f'search q="{q}" hits={r.randint(0, 5000)} took={took}ms shard_failures=0', trace
        )
        if took > 700:
            g.emit(
                g.ms(at, 0.06), "WARN", f"search latency {took}ms above SLO 500ms on node es-{r.randint(1, 6)}", trace
            )
    g.emit(g.ms(t, 59), "INFO", f"cluster health green nodes=6 active_shards={r.randint(118, 120)}")
    if incident and r.random() < 0.3:
        g.emit(
            g.ms(t, 59),
            "ERROR",
            f"es-{r.randint(1, 6)}: circuit_breaking_exception [parent] data too large, "
            f"would be [{r.randint(10**9, 2 * 10**9)}/{r.uniform(1, 2):.1f}gb]",
        )


_MINUTE: dict[str, Callable[[_Gen, datetime, float, bool], None]] = {
    "checkout-api": _checkout_minute,
    "payments-worker": _worker_minute,
    "search-gateway": _search_minute,
}


def demo_end_default(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def generate(*, service: str, end: datetime, days: int = 7, scale: float = 1.0, seed: int = 7) -> Iterator[DemoLine]:
    """Lines for `service` over `days` ending at `end`, in time order; identical for the same arguments.

    `scale` multiplies traffic. An incident (payments gateway trouble, slow search) is placed in one hour of the
    second-to-last day so anomaly detection and alerts have something real to find.
    """
    minute_fn = _MINUTE[service]
    rng = random.Random(f"{seed}:{service}")
    g = _Gen(rng, service)
    start = end - timedelta(days=days)
    incident_start = end - timedelta(days=1, hours=10)
    t = start
    while t < end:
        incident = incident_start <= t < incident_start + timedelta(minutes=45)
        load = _traffic(t) * scale
        minute_fn(g, t, load, incident)
        g.out.sort(key=lambda line: line.timestamp)
        yield from g.out
        g.out.clear()
        t += timedelta(minutes=1)


def write_demo_file(*, path: Path, service: str, end: datetime, days: int, scale: float, seed: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=5) as handle:
        for line in generate(service=service, end=end, days=days, scale=scale, seed=seed):
            handle.write(line.as_json())
            handle.write("\n")
            count += 1
    tmp.replace(path)
    return count
