"""The ClickHouse source's SQL on a current engine (chdb, in process) over PostHog's real column types."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from patterns.sources import ClickHouseConfig, ClickHouseLogSource, template_keys_from_records
from tests.patterns.sources.chdb_client import POSTHOG_DDL, ChdbClient, copy_sql
from tests.patterns.sources.dataset import SPAN_SECONDS, START, TEAM_ID, create_and_load

chdb_session = pytest.importorskip("chdb.session")

ROWS = 30_000
END = START + timedelta(seconds=SPAN_SECONDS)


@pytest.fixture(scope="module")
def chdb_client() -> Iterator[ChdbClient]:
    session = chdb_session.Session()
    client = ChdbClient(session)
    create_and_load(client, table="logs_compat", rows=ROWS)
    client.execute(POSTHOG_DDL.format(table="logs"))
    client.execute(copy_sql(source="logs_compat", target="logs"))
    yield client
    session.close()


@pytest.fixture
def source(chdb_client: ChdbClient) -> ClickHouseLogSource:
    config = ClickHouseConfig(team_id=TEAM_ID, table="logs", schema="posthog", page_size=1_000)
    return ClickHouseLogSource(config, client=chdb_client)


def test_pushdown_equals_python_on_posthog_types(source: ClickHouseLogSource) -> None:
    pushed = source.count_template_keys(service=None, start=START, end=END)
    python = template_keys_from_records(source.fetch_logs(service=None, start=START, end=END))

    assert sum(c.count for c in pushed) == ROWS
    assert {c.key: (c.count, c.bytes, dict(c.severities)) for c in pushed} == {
        c.key: (c.count, c.bytes, dict(c.severities)) for c in python
    }
    assert {c.key: (c.first_seen, c.last_seen) for c in pushed} == {c.key: (c.first_seen, c.last_seen) for c in python}


def test_keyset_pagination_keeps_microseconds(source: ClickHouseLogSource) -> None:
    records = list(source.fetch_logs(service=None, start=START, end=END))

    assert len(records) == len({r.uuid for r in records}) == ROWS
    positions = [(r.timestamp, r.uuid) for r in records]
    assert positions == sorted(positions)
    assert {r.timestamp.microsecond for r in records} == {7, 250_007, 500_007, 750_007}


def test_map_attributes_are_read_through_subcolumns(source: ClickHouseLogSource) -> None:
    record = next(source.fetch_logs(service="worker", start=START, end=END))

    assert set(record.attributes) == {"http.status", "template"}
    assert record.resource_attributes == {"service.name": "worker"}


def test_sub_second_range_bounds_are_exact(source: ClickHouseLogSource) -> None:
    everything = list(source.fetch_logs(service=None, start=START, end=END))
    start, end = everything[100].timestamp, everything[200].timestamp
    assert start.microsecond and end.microsecond

    records = list(source.fetch_logs(service=None, start=start, end=end))

    assert [r.uuid for r in records] == [r.uuid for r in everything if start <= r.timestamp < end]
    assert everything[100].uuid in {r.uuid for r in records}
    assert everything[200].uuid not in {r.uuid for r in records}


def test_volume_on_posthog_types(source: ClickHouseLogSource) -> None:
    volume = source.log_volume(service=None, start=START, end=END, bucket=timedelta(hours=6))

    assert [b.start for b in volume] == [START + timedelta(hours=6 * i) for i in range(4)]
    assert sum(b.lines for b in volume) == ROWS
