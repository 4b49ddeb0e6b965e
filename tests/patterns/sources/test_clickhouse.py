"""The ClickHouse source against a real server (started by .ci/services.sh) holding 1M generated rows."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_driver import Client

from patterns.sources import (
    ClickHouseConfig,
    ClickHouseLogSource,
    SourceQueryError,
    SourceRecord,
    SourceUnavailableError,
    TemplateKeyCount,
    template_keys_from_records,
)
from tests.conftest import service_unavailable
from tests.patterns.sources.conftest import LOADED_ROWS, OTHER_TEAM_ROWS, SLOW_SERVER_SECONDS
from tests.patterns.sources.dataset import SPAN_SECONDS, START, TEAM_ID, create_and_load

pytestmark = pytest.mark.clickhouse

END = START + timedelta(seconds=SPAN_SECONDS)
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class PythonPass:
    uuids: list[str]
    ordered: bool
    counts: list[TemplateKeyCount]


@pytest.fixture(scope="module")
def python_pass(clickhouse_url: str, loaded_table: str) -> PythonPass:
    """One keyset scan of every row, keys computed in Python: the reference the pushdown must equal."""
    config = ClickHouseConfig(
        team_id=TEAM_ID,
        url=clickhouse_url,
        table=loaded_table,
        schema="compat",
        page_size=100_000,
        max_execution_time=SLOW_SERVER_SECONDS,
    )
    uuids: list[str] = []
    ordered = True
    previous: tuple[datetime, str] | None = None

    def records() -> Iterator[SourceRecord]:
        nonlocal ordered, previous
        with ClickHouseLogSource(config) as source:
            for record in source.fetch_logs(service=None, start=START, end=END):
                uuids.append(record.uuid)
                position = (record.timestamp, record.uuid)
                if previous is not None and position <= previous:
                    ordered = False
                previous = position
                yield record

    counts = template_keys_from_records(records())
    return PythonPass(uuids=uuids, ordered=ordered, counts=counts)


def test_pushdown_template_key_counts_equal_python_counts_key_by_key(
    ch_source: ClickHouseLogSource, python_pass: PythonPass
) -> None:
    pushed = ch_source.count_template_keys(service=None, start=START, end=END)

    assert sum(c.count for c in pushed) == LOADED_ROWS
    assert {c.key: c.count for c in pushed} == {c.key: c.count for c in python_pass.counts}
    assert {c.key: c.bytes for c in pushed} == {c.key: c.bytes for c in python_pass.counts}
    assert {c.key: dict(c.severities) for c in pushed} == {c.key: dict(c.severities) for c in python_pass.counts}
    assert {c.key: (c.first_seen, c.last_seen) for c in pushed} == {
        c.key: (c.first_seen, c.last_seen) for c in python_pass.counts
    }
    assert [c.count for c in pushed] == sorted((c.count for c in pushed), reverse=True)


def test_keyset_pagination_returns_each_row_once_in_order(python_pass: PythonPass) -> None:
    assert len(python_pass.uuids) == LOADED_ROWS
    assert len(set(python_pass.uuids)) == LOADED_ROWS
    assert python_pass.ordered


def test_small_pages_break_timestamp_ties_on_uuid(clickhouse_url: str, loaded_table: str) -> None:
    config = ClickHouseConfig(
        team_id=TEAM_ID,
        url=clickhouse_url,
        table=loaded_table,
        schema="compat",
        page_size=7,
        max_execution_time=SLOW_SERVER_SECONDS,
    )
    window_end = START + timedelta(seconds=2)

    with ClickHouseLogSource(config) as source:
        uuids = [r.uuid for r in source.fetch_logs(service=None, start=START, end=window_end)]

    expected = LOADED_ROWS * 2 // SPAN_SECONDS
    assert len(uuids) == len(set(uuids)) in (expected, expected + 1)


def test_queries_are_scoped_to_the_team(other_team_source: ClickHouseLogSource) -> None:
    counts = other_team_source.count_template_keys(service=None, start=START, end=END)
    volume = other_team_source.log_volume(service=None, start=START, end=END, bucket=timedelta(days=1))

    assert sum(c.count for c in counts) == OTHER_TEAM_ROWS
    assert sum(b.lines for b in volume) == OTHER_TEAM_ROWS


def test_service_and_time_range_narrow_the_pushdown(
    ch_source: ClickHouseLogSource, clickhouse_admin: Client, loaded_table: str
) -> None:
    start, end = START + timedelta(hours=6), START + timedelta(hours=9)

    counts = ch_source.count_template_keys(service="billing", start=start, end=end)
    records = list(ch_source.fetch_logs(service="billing", start=start, end=end))

    ((expected,),) = clickhouse_admin.execute(
        f"SELECT count() FROM {loaded_table} WHERE team_id = %(team)s AND service_name = 'billing'"  # noqa: S608
        " AND timestamp >= toDateTime(%(start)s, 'UTC') AND timestamp < toDateTime(%(end)s, 'UTC')",
        {"team": TEAM_ID, "start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")},
    )
    assert sum(c.count for c in counts) == len(records) == expected > 0
    assert {r.service for r in records} == {"billing"}
    assert all(start <= r.timestamp < end for r in records)


def test_records_carry_attributes_without_the_str_suffix(ch_source: ClickHouseLogSource) -> None:
    record = next(ch_source.fetch_logs(service="api", start=START, end=END, severities=["ERROR"]))

    assert record.severity == "ERROR"
    assert set(record.attributes) == {"http.status", "template"}
    assert record.resource_attributes == {"service.name": "api"}
    assert record.bytes == len(record.body.encode()) + 48
    assert record.trace_id is None or len(record.trace_id) == 32


def test_log_volume_buckets_add_up(ch_source: ClickHouseLogSource) -> None:
    volume = ch_source.log_volume(service=None, start=START, end=END, bucket=timedelta(hours=1))

    assert len(volume) == 24
    assert volume[0].start == START
    assert sum(b.lines for b in volume) == LOADED_ROWS
    assert all(b.bytes > b.lines * 48 for b in volume)


def test_the_source_connection_is_read_only(ch_source: ClickHouseLogSource, loaded_table: str) -> None:
    with pytest.raises(SourceQueryError, match="ClickHouse error 164"):
        ch_source._execute(f"INSERT INTO {loaded_table} (uuid) VALUES ('x')", {})  # noqa: S608


def test_a_missing_table_is_a_query_error(clickhouse_url: str, clickhouse_admin: Client) -> None:
    config = ClickHouseConfig(team_id=TEAM_ID, url=clickhouse_url, table="no_such_logs_table")

    with ClickHouseLogSource(config) as source, pytest.raises(SourceQueryError, match="table or column missing"):
        source.count_template_keys(service=None, start=START, end=END)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(home: Path, port: int, http_port: int) -> None:
    env = {
        **os.environ,
        "CLICKHOUSE_HOME": str(home),
        "CLICKHOUSE_PORT": str(port),
        "CLICKHOUSE_HTTP_PORT": str(http_port),
    }
    result = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "services.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        service_unavailable("throwaway ClickHouse", result.stderr.strip()[-500:])


def _stop_server(home: Path) -> None:
    pid_file = home / "clickhouse-server.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@pytest.fixture
def throwaway_server(tmp_path: Path, clickhouse_admin: Client) -> Iterator[tuple[Path, str, int, int]]:
    """A second server with its own data dir and ports, so killing it leaves the shared one alone."""
    home = tmp_path / "clickhouse"
    port, http_port = _free_port(), _free_port()
    _start_server(home, port, http_port)
    try:
        yield home, f"clickhouse://127.0.0.1:{port}/default", port, http_port
    finally:
        _stop_server(home)


def test_server_stopping_mid_fetch_raises_a_source_error_and_a_rerun_matches(
    throwaway_server: tuple[Path, str, int, int],
) -> None:
    home, url, port, http_port = throwaway_server
    admin = Client("127.0.0.1", port=port)
    create_and_load(admin, table="logs", rows=100_000)
    admin.disconnect()
    config = ClickHouseConfig(
        team_id=TEAM_ID, url=url, table="logs", schema="compat", page_size=5_000, max_execution_time=SLOW_SERVER_SECONDS
    )
    received: list[SourceRecord] = []

    with ClickHouseLogSource(config) as source:
        records = source.fetch_logs(service=None, start=START, end=END)
        received.extend(next(records) for _ in range(5_000))
        _stop_server(home)
        with pytest.raises(SourceUnavailableError, match="unreachable") as caught:
            received.extend(records)

    assert caught.value.rows_delivered == len(received) == 5_000

    _start_server(home, port, http_port)
    with ClickHouseLogSource(config) as source:
        first = source.count_template_keys(service=None, start=START, end=END)
        uuids = [r.uuid for r in source.fetch_logs(service=None, start=START, end=END)]
        second = source.count_template_keys(service=None, start=START, end=END)

    assert len(uuids) == len(set(uuids)) == 100_000 == sum(c.count for c in first)
    assert [(c.key, c.count, c.bytes) for c in first] == [(c.key, c.count, c.bytes) for c in second]
