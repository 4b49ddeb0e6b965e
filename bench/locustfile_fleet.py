"""A fleet of simulated lipservice-sdk instances: each polls its service's policy and posts stats like the real SDK.

Driven by bench/sdk_fleet.py (`locust -f bench/locustfile_fleet.py --headless ...`). Each user is one SDK of a fleet
already running: every `--poll-interval` seconds (±10% jitter, as `PolicyPoller`) it polls its service's policy with
the ETag of its policy cache (a `--cold-share` of SDKs have none), and every `--stats-interval` seconds it posts one
batch in the SDK's payload shape (`StatsReporter._post`); the first of each comes at a random moment. A batch that
got no 202 stays pending and is re-sent with the same batch id; a share of acknowledged batches is re-sent on purpose
(a lost acknowledgement) and must come back as a duplicate. The ledger written at exit lists every acknowledged batch
id with its `seen` total and every batch still pending, so the driver can check the database lost and doubled nothing.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from lipservice_sdk import __version__
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.event import EventHook

POLICY = "GET /api/v1/policies/{service}"
STATS = "POST /api/v1/patterns/stats"
RESEND = "POST /api/v1/patterns/stats (re-sent acknowledged batch)"
SDK = {"name": "lipservice-sdk", "version": __version__}
JITTER = 0.1  # lipservice_sdk.policy_source.JITTER

_services: list[dict[str, Any]] = []
_next_service = itertools.count()
_acked: dict[str, dict[str, int]] = {}  # service -> batch id -> seen
_users: list[Sdk] = []
_statuses: dict[str, dict[str, Counter[str]]] = {"run": {}, "measured": {}}
_times: dict[str, list[float]] = {}  # response times (ms) per request name in the measured phase
_window = {"start": 0.0, "end": 0.0}
_idempotency_violations = 0
_status_loop: gevent.Greenlet | None = None


def _arguments(parser: Any) -> None:
    parser.add_argument("--fleet-config", default="", help="JSON: services with their API keys and pattern ids")
    parser.add_argument("--fleet-ledger", default="", help="where to write acknowledged and pending batches at exit")
    parser.add_argument("--poll-interval", type=float, default=60.0, help="seconds between policy polls per SDK")
    parser.add_argument("--stats-interval", type=float, default=30.0, help="seconds between stats batches per SDK")
    parser.add_argument("--patterns-per-batch", type=int, default=30, help="mean pattern entries per minute")
    parser.add_argument("--resend-share", type=float, default=0.02, help="share of batches re-sent after their ack")
    parser.add_argument("--cold-share", type=float, default=0.1, help="share of SDKs starting without a policy cache")
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between progress lines")


def _load(environment: Environment, **_: Any) -> None:
    path = environment.parsed_options.fleet_config if environment.parsed_options else ""
    if path:
        _services.extend(json.loads(Path(path).read_text(encoding="utf-8"))["services"])


def _count(name: str, response: Any, response_time: float, **_: Any) -> None:
    status = str(getattr(response, "status_code", 0) or 0) if response is not None else "0"
    for phase in ("run", "measured"):
        _statuses[phase].setdefault(name, Counter())[status] += 1
    _times.setdefault(name, []).append(response_time)


def _measure_from_here(**_: Any) -> None:
    # The measured phase starts when every SDK is running, as locust's --reset-stats.
    _statuses["measured"] = {}
    _times.clear()
    _window["start"] = time.time()


def _start_status(environment: Environment, **_: Any) -> None:
    global _status_loop
    every = environment.parsed_options.status_every if environment.parsed_options else 10.0
    _status_loop = gevent.spawn(_print_status, environment, every)


def _stop_status(**_: Any) -> None:
    _window["end"] = time.time()
    if _status_loop is not None:
        _status_loop.kill(block=False)


def _print_status(environment: Environment, every: float) -> None:
    started = time.monotonic()
    previous = 0
    while True:
        gevent.sleep(every)
        statuses = Counter[str]()
        for counts in _statuses["run"].values():
            statuses.update(counts)
        done = sum(statuses.values())
        errors = sum(n for status, n in statuses.items() if status == "0" or int(status) >= 400)
        users = environment.runner.user_count if environment.runner else 0
        p99 = environment.stats.total.get_response_time_percentile(0.99) or 0
        print(
            f"fleet: {time.monotonic() - started:4.0f} s, {users} SDKs, {(done - previous) / every:6.1f} req/s, "
            f"{done:,} requests, p99 since all started {p99:.0f} ms, {errors} errors ({statuses['429']} × 429)",
            flush=True,
        )
        previous = done


def _write_ledger(environment: Environment, **_: Any) -> None:
    path = environment.parsed_options.fleet_ledger if environment.parsed_options else ""
    if not path:
        return
    pending = [
        {"key": user.key, "payload": payload} for user in _users for payload in user.pending.values()
    ]  # fmt: skip
    ledger = {
        "names": {"policy": POLICY, "stats": STATS, "resend": RESEND},
        "acked": _acked,
        "pending": pending,
        "statuses": {phase: {name: dict(c) for name, c in by_name.items()} for phase, by_name in _statuses.items()},
        "idempotency_violations": _idempotency_violations,
        "times": _times,
        "measured_seconds": max(0.0, _window["end"] - _window["start"]) if _window["start"] else 0.0,
    }
    Path(path).write_text(json.dumps(ledger), encoding="utf-8")


def _listen(hook: EventHook, listener: Callable[..., None]) -> None:
    hook.add_listener(listener)  # type: ignore[no-untyped-call]


_listen(events.init_command_line_parser, _arguments)
_listen(events.init, _load)
_listen(events.request, _count)
_listen(events.spawning_complete, _measure_from_here)
_listen(events.test_start, _start_status)
_listen(events.test_stop, _stop_status)
_listen(events.quitting, _write_ledger)


def _minute_label(moment: float) -> str:
    return datetime.fromtimestamp(int(moment // 60) * 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sdk(FastHttpUser):
    """One SDK instance of one service (services are dealt round robin, so each has the same number of SDKs)."""

    network_timeout = 5.0  # lipservice_sdk AdaptiveConfig.request_timeout
    connection_timeout = 5.0
    concurrency = 1  # the SDK talks over one connection at a time

    def on_start(self) -> None:
        options = self.environment.parsed_options
        assert options is not None and _services, "run through bench/sdk_fleet.py (needs --fleet-config)"
        service = _services[next(_next_service) % len(_services)]
        self.service: str = service["name"]
        self.key: str = service["key"]
        self.known: list[str] = service["patterns"]
        # The SDK's id for lines no policy pattern matched: "sig:" and 16 hex digits of the template key's hash.
        self.unknown = [f"sig:{uuid.uuid5(uuid.NAMESPACE_DNS, f'{self.service}-{i}').hex[:16]}" for i in range(5)]
        self.headers = {"Authorization": f"Bearer {self.key}", "Accept-Encoding": "identity"}
        self.poll_interval: float = options.poll_interval
        self.stats_interval: float = options.stats_interval
        self.patterns_per_batch: int = options.patterns_per_batch
        self.resend_share: float = options.resend_share
        # A restarted SDK sends the ETag of the policy in its disk cache; a new one has none and gets the policy.
        self.etag = "" if random.random() < options.cold_share else service["etag"]
        self.pending: dict[str, dict[str, Any]] = {}  # batch id -> payload, oldest first, until a 202
        self.recent: deque[dict[str, Any]] = deque(maxlen=20)
        # A fleet in its steady state: SDKs started at random times, so their polls and reports are spread out.
        now = time.monotonic()
        self.next_poll = now + random.uniform(0, self.poll_interval)
        self.next_stats = now + random.uniform(0, self.stats_interval)
        self.last_report = time.time() - self.stats_interval
        _acked.setdefault(self.service, {})
        _users.append(self)

    def wait_time(self) -> float:
        return max(0.0, min(self.next_poll, self.next_stats) - time.monotonic())

    @task
    def tick(self) -> None:
        if time.monotonic() >= self.next_poll:
            self.poll()
            self.next_poll = time.monotonic() + self.poll_interval * random.uniform(1 - JITTER, 1 + JITTER)
        if time.monotonic() >= self.next_stats:
            self.report()
            self.next_stats = time.monotonic() + self.stats_interval

    def poll(self) -> None:
        headers = {**self.headers, "If-None-Match": self.etag} if self.etag else self.headers
        with self.client.get(
            f"/api/v1/policies/{self.service}", headers=headers, name=POLICY, catch_response=True
        ) as response:
            if response.status_code == 200:
                self.etag = response.headers.get("ETag") or ""
                response.success()
            elif response.status_code == 304:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")

    def report(self) -> None:
        batch = self.batch()
        self.pending[batch["batch_id"]] = batch
        for payload in list(self.pending.values()):  # oldest first; stop at the first failure, as the SDK does
            if not self.post(payload, name=STATS, expect_duplicate=None):
                break
        if self.recent and random.random() < self.resend_share:
            self.post(random.choice(self.recent), name=RESEND, expect_duplicate=True)

    def batch(self) -> dict[str, Any]:
        """What the SDK's aggregator holds after one interval: per pattern and minute, seen/kept/bytes."""
        now = time.time()
        minutes = sorted({_minute_label(t) for t in (self.last_report, now)})
        self.last_report = now
        entries = []
        for minute in minutes:
            count = max(1, min(len(self.known), int(random.gauss(self.patterns_per_batch / len(minutes), 5))))
            patterns = random.sample(self.known, count)
            if random.random() < 0.2:
                patterns.append(random.choice(self.unknown))
            for pattern in patterns:
                seen = random.randint(1, 400)
                kept = seen if random.random() < 0.1 else random.randint(1, seen)
                size = random.randint(80, 600)
                entries.append(
                    {"pattern": pattern, "minute": minute, "seen": seen, "kept": kept,
                     "bytes_seen": seen * size, "bytes_kept": kept * size}
                )  # fmt: skip
        return {"batch_id": str(uuid.uuid4()), "service": self.service, "sdk": SDK, "stats": entries}

    def post(self, payload: dict[str, Any], *, name: str, expect_duplicate: bool | None) -> bool:
        global _idempotency_violations
        with self.client.post(
            "/api/v1/patterns/stats", json=payload, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"HTTP {response.status_code}")
                return False
            duplicate = bool(response.json().get("duplicate"))
            if expect_duplicate and not duplicate:
                _idempotency_violations += 1
                response.failure("an acknowledged batch was counted again")
                return True
            response.success()
        batch_id = payload["batch_id"]
        if batch_id in self.pending:
            del self.pending[batch_id]
            _acked[self.service][batch_id] = sum(entry["seen"] for entry in payload["stats"])
            self.recent.append(payload)
        return True
