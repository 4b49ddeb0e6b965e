"""Fixtures for the source tests: the shared ClickHouse with a 1M-row table, and a local fake PostHog API."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from clickhouse_driver import Client

from patterns.sources.clickhouse import ClickHouseConfig, ClickHouseLogSource, client_from_url
from tests.conftest import service_unavailable
from tests.patterns.sources.dataset import OTHER_TEAM_ID, TEAM_ID, create_and_load, unique_table
from tests.patterns.sources.fake_posthog import FakePostHog

DEFAULT_CLICKHOUSE_URL = "clickhouse://127.0.0.1:9000/default"
LOADED_ROWS = 1_000_000
OTHER_TEAM_ROWS = 20_000
# A shared 2-core CI machine can be slow; these tests check results, not the production time budget.
SLOW_SERVER_SECONDS = 900


@pytest.fixture(scope="session")
def clickhouse_url() -> str:
    return os.environ.get("CLICKHOUSE_URL", DEFAULT_CLICKHOUSE_URL)


@pytest.fixture(scope="session")
def clickhouse_admin(clickhouse_url: str) -> Iterator[Client]:
    """A writable connection for loading test data; the sources under test connect read-only."""
    client = client_from_url(clickhouse_url, settings={}, connect_timeout=5, send_receive_timeout=300)
    try:
        client.execute("SELECT 1")
    except Exception as exc:
        service_unavailable("ClickHouse", f"{clickhouse_url}: {exc}")
    yield client
    client.disconnect()


@pytest.fixture(scope="session")
def loaded_table(clickhouse_admin: Client) -> Iterator[str]:
    """1M rows for TEAM_ID plus rows of another team, in a table unique to this session so parallel runs coexist."""
    table = unique_table()
    try:
        create_and_load(clickhouse_admin, table=table, rows=LOADED_ROWS, other_team_rows=OTHER_TEAM_ROWS)
        yield table
    finally:
        clickhouse_admin.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def ch_source(clickhouse_url: str, loaded_table: str) -> Iterator[ClickHouseLogSource]:
    config = ClickHouseConfig(
        team_id=TEAM_ID, url=clickhouse_url, table=loaded_table, schema="compat", max_execution_time=SLOW_SERVER_SECONDS
    )
    with ClickHouseLogSource(config) as source:
        yield source


@pytest.fixture
def other_team_source(clickhouse_url: str, loaded_table: str) -> Iterator[ClickHouseLogSource]:
    config = ClickHouseConfig(
        team_id=OTHER_TEAM_ID,
        url=clickhouse_url,
        table=loaded_table,
        schema="compat",
        max_execution_time=SLOW_SERVER_SECONDS,
    )
    with ClickHouseLogSource(config) as source:
        yield source


@pytest.fixture
def fake_posthog() -> Iterator[FakePostHog]:
    server = FakePostHog()
    server.start()
    yield server
    server.stop()
