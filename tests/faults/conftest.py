"""The app in gunicorn over a private PostgreSQL database and a private Redis, with a team, a key and a policy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.instances import (
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    app_environment,
    migrate,
    run_django,
)
from tests.faults.traffic import SdkTraffic

TEMPLATE_DATABASE = "lipservice_faults_template"
SERVICE = "checkout-api"
PATTERNS = [f"p{index:02d}" for index in range(8)]

SETUP = f"""
import json
from lipservice.services import api_key_create, team_get_or_create
from patterns.models import Pattern
from patterns.services import service_get_or_create
from policies.services import policy_publish
team, _ = team_get_or_create(name="faults")
service = service_get_or_create(team=team, name={SERVICE!r})
patterns = [{{"id": pid, "template": f"GET /api/items/<NUM> step {{pid}} <*>", "rate": 0.1, "reason": "chatter"}}
            for pid in {PATTERNS!r}]
for p in patterns:
    Pattern.objects.create(service=service, pattern_id=p["id"], template=p["template"], count=10000, bytes=900000,
                           severity_counts={{"INFO": 10000}})
version = policy_publish(service=service, actor="faults", document={{"service": {SERVICE!r}, "patterns": patterns,
                         "severity_rates": {{"DEBUG": 0.01, "INFO": 0.1, "WARN": 1, "ERROR": 1, "FATAL": 1}}}})
_, key = api_key_create(team=team, name="sdk")
_, management_key = api_key_create(team=team, name="ops", scope="management")
print(json.dumps({{"key": key, "management_key": management_key, "service_id": service.pk, "version": version.number}}))
"""


@dataclass
class App:
    server: Gunicorn
    postgres: PrivatePostgres
    redis: PrivateRedis
    database: str
    key: str
    management_key: str
    service_id: int
    policy_version: int

    def rows(self, sql: str, **params: object) -> list[tuple[Any, ...]]:
        return self.postgres.rows(self.database, sql, params)

    def stats_totals(self) -> tuple[int, int, int, int]:
        ((seen, kept, bytes_seen, bytes_kept),) = self.rows(
            "SELECT coalesce(sum(sdk_seen), 0), coalesce(sum(sdk_kept), 0), coalesce(sum(sdk_bytes_seen), 0),"
            " coalesce(sum(sdk_bytes_kept), 0) FROM patterns_patternwindow WHERE service_id = %(service)s",
            service=self.service_id,
        )
        return int(seen), int(kept), int(bytes_seen), int(bytes_kept)

    def batches(self) -> tuple[int, int]:
        """Stored stats batches and the entries they carried."""
        ((count, entries),) = self.rows(
            "SELECT count(*), coalesce(sum(entries), 0) FROM patterns_statsbatch WHERE service_id = %(service)s",
            service=self.service_id,
        )
        return int(count), int(entries)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    """One private cluster with a migrated template database; each test gets a fresh copy of the template."""
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        server.create_database(TEMPLATE_DATABASE)
        migrate(
            app_environment(
                data_dir=tmp_path_factory.mktemp("faults_migrate"), database_url=server.url(TEMPLATE_DATABASE)
            )
        )
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def app(postgres: PrivatePostgres, redis_server: PrivateRedis, tmp_path: Path) -> Iterator[App]:
    postgres.start_if_stopped()
    database = postgres.create_database(f"faults_{uuid.uuid4().hex[:10]}", template=TEMPLATE_DATABASE)
    env = app_environment(data_dir=tmp_path / "data", database_url=postgres.url(database), redis=redis_server)
    server = Gunicorn(env=env, log=tmp_path / "gunicorn.log")
    try:
        created = json.loads(run_django(SETUP, env))
        server.start()
        yield App(
            server=server,
            postgres=postgres,
            redis=redis_server,
            database=database,
            key=created["key"],
            management_key=created["management_key"],
            service_id=created["service_id"],
            policy_version=created["version"],
        )
    finally:
        server.stop()
        postgres.start_if_stopped()
        with postgres.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def traffic(app: App) -> Iterator[SdkTraffic]:
    sdk = SdkTraffic(url=app.server.url, key=app.key, service=SERVICE, patterns=PATTERNS)
    sdk.start()
    try:
        yield sdk
    finally:
        sdk.stop(timeout=1)
