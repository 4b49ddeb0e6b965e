"""The service sends its own logs through lipservice-sdk: gunicorn started with LIPSERVICE_SELF_* pointing the SDK at
the service itself (policy and stats) and at a local OTLP receiver standing in for PostHog."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python" / "tests"))
from lipservice_fakes import OtlpServer, dead_url, running, wait_until

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "lipservice-self"
TOKEN = "phc_self"
PROBES = 40
SETUP = """
import django, sys
django.setup()
from lipservice.services import api_key_create, team_get_or_create
from patterns.services import service_get_or_create
from policies.services import policy_publish
team, _ = team_get_or_create(name="ops")
service = service_get_or_create(team=team, name=sys.argv[1])
policy_publish(service=service, actor="test", document={"service": sys.argv[1], "patterns": [
    {"id": "health", "template": "GET /api/v1/health <*>", "rate": 0.05, "reason": "probe"},
    {"id": "services", "template": "GET /api/v1/services <*>", "rate": 1.0, "reason": "listing"},
]})
_, key = api_key_create(team=team, name="self", scope="management")
print(key)
"""
# The service's own database and cache, whatever the test run uses: SQLite and local memory in a temporary directory.
DROPPED = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "DJANGO_ALLOW_ASYNC_UNSAFE"}


@dataclass(frozen=True)
class Database:
    env: dict[str, str]
    key: str


@dataclass(frozen=True)
class App:
    url: str
    key: str
    log: Path

    def get(self, path: str, *, auth: bool = True) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.key}"} if auth else {}
        request = urllib.request.Request(self.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()

    def json_lines(self) -> list[dict[str, Any]]:
        """The service's own log lines (gunicorn's are plain text, ours JSON)."""
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    data = tmp_path_factory.mktemp("self_logging")
    env = {key: value for key, value in os.environ.items() if key not in DROPPED and not key.startswith("LIPSERVICE_")}
    env.update(
        DJANGO_SETTINGS_MODULE="lipservice.settings",
        DATABASE_URL=f"sqlite:///{data / 'lipservice.sqlite3'}",
        LIPSERVICE_DATA_DIR=str(data),
        LIPSERVICE_LOG_FORMAT="json",
        LIPSERVICE_ACCESS_LOG_LEVEL="INFO",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    result = subprocess.run(
        [sys.executable, "-c", SETUP, SERVICE], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return Database(env=env, key=result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database: Database, tmp_path: Path, **settings: str) -> Iterator[App]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**database.env, "LIPSERVICE_SELF_CACHE_DIR": str(tmp_path / "sdk-cache")}
    env.update({name: value.replace("{url}", url) for name, value in settings.items()})
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "lipservice.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    app = App(url=url, key=database.key, log=log)
    try:

        def up() -> bool:
            assert server.poll() is None, log.read_text(encoding="utf-8")
            try:
                return app.get("/api/v1/services")[0] == 200  # not a health probe: those are what the tests count
            except OSError:
                return False

        assert wait_until(up, 120, interval=0.2), log.read_text(encoding="utf-8")
        yield app
    finally:
        server.terminate()
        server.wait(timeout=30)


def health_windows(app: App) -> tuple[int, int]:
    """What the service's stats endpoint recorded for the health probe's pattern: (seen, kept)."""
    try:
        status, body = app.get(f"/api/v1/patterns/{SERVICE}/health")
    except OSError:  # 404 until the SDK's first batch names the pattern
        return 0, 0
    windows = json.loads(body)["windows"] if status == 200 else []
    return sum(w["sdk_seen"] for w in windows), sum(w["sdk_kept"] for w in windows)


def probes_at(posthog: OtlpServer) -> list[Any]:
    return [log for log in list(posthog.logs) if log.body.startswith("GET /api/v1/health ")]


def test_the_service_samples_its_own_logs_by_its_own_policy_and_reports_to_itself(
    database: Database, tmp_path: Path
) -> None:
    with (
        running(OtlpServer(token=TOKEN)) as posthog,
        serving(
            database,
            tmp_path,
            LIPSERVICE_SELF_SERVICE_NAME=SERVICE,
            LIPSERVICE_SELF_URL="{url}",
            LIPSERVICE_SELF_API_KEY=database.key,
            LIPSERVICE_SELF_POSTHOG_TOKEN=TOKEN,
            LIPSERVICE_SELF_POSTHOG_HOST=posthog.url,
            LIPSERVICE_SELF_REFRESH_INTERVAL="0.5",
            LIPSERVICE_SELF_STATS_INTERVAL="0.5",
        ) as app,
    ):

        def policy_in_force() -> bool:
            app.get("/api/v1/services")
            return any(log.attributes.get("lipservice.pattern") == "services" for log in list(posthog.logs))

        assert wait_until(policy_in_force, 60, interval=0.3), (posthog.arrivals, posthog.rejected, app.log.read_text())
        for _ in range(PROBES):
            assert app.get("/api/v1/health", auth=False)[0] == 200
        assert wait_until(lambda: health_windows(app)[0] == PROBES, 60, interval=0.3), health_windows(app)
        seen, kept = health_windows(app)
        assert wait_until(lambda: len(probes_at(posthog)) >= kept, 30)
        exported = probes_at(posthog)
        stdout = [line for line in app.json_lines() if str(line.get("event", "")).startswith("GET /api/v1/health ")]

    assert seen == PROBES
    assert 1 <= kept < PROBES  # the first line of the pattern is kept, then about 5% of the rest
    assert len(exported) == kept
    assert all(log.attributes["lipservice.pattern"] == "health" for log in exported)
    assert all(0 < log.attributes["lipservice.sample_rate"] <= 1 for log in exported)
    assert {log.resource["service.name"] for log in posthog.logs} == {SERVICE}
    assert posthog.rejected == 0
    # The console keeps what the policy keeps, as JSON with the same attributes.
    assert len(stdout) == kept
    assert all(line["lipservice.pattern"] == "health" and line["logger"] == "lipservice.access" for line in stdout)


def test_the_service_starts_and_keeps_every_line_when_lipservice_is_unreachable(
    database: Database, tmp_path: Path
) -> None:
    with serving(
        database,
        tmp_path,
        LIPSERVICE_SELF_SERVICE_NAME=SERVICE,
        LIPSERVICE_SELF_URL=dead_url(),
        LIPSERVICE_SELF_API_KEY=database.key,
        LIPSERVICE_SELF_REFRESH_INTERVAL="0.5",
    ) as app:
        for _ in range(5):
            assert app.get("/api/v1/health", auth=False)[0] == 200
        lines = [line for line in app.json_lines() if str(line.get("event", "")).startswith("GET /api/v1/health ")]

    # Without a policy every line is kept, and still carries the SDK's attributes.
    assert len(lines) == 5
    assert all(line["lipservice.pattern"].startswith("sig:") and line["lipservice.sample_rate"] == 1 for line in lines)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"LIPSERVICE_SELF_API_KEY": "lsk_x"}, "LIPSERVICE_SELF_URL"),
        ({"LIPSERVICE_SELF_URL": "http://127.0.0.1:9"}, "LIPSERVICE_SELF_API_KEY"),
        ({"LIPSERVICE_SELF_URL": "ftp://example.com", "LIPSERVICE_SELF_API_KEY": "lsk_x"}, "LIPSERVICE_SELF_URL"),
        (
            {
                "LIPSERVICE_SELF_URL": "http://127.0.0.1:9",
                "LIPSERVICE_SELF_API_KEY": "lsk_x",
                "LIPSERVICE_SELF_STATS_INTERVAL": "0",
            },
            "LIPSERVICE_SELF_STATS_INTERVAL",
        ),
    ],
)
def test_an_incomplete_self_logging_setting_stops_startup_naming_the_variable(
    settings: dict[str, str], named: str
) -> None:
    env = {key: value for key, value in os.environ.items() if key not in DROPPED and not key.startswith("LIPSERVICE_")}
    env.update(settings, LIPSERVICE_SELF_SERVICE_NAME=SERVICE)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr
