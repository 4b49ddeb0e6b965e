"""ClickHouse killed while the scheduled analysis reads a service's window from it, then started again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_driver import Client
from django.db.models import Sum

from lipservice.models import Team
from patterns.models import AnalysisRun, Pattern, PatternWindow, Service
from policies.models import PolicyVersion
from policies.tasks import run_pipeline
from tests.faults.instances import TcpRelay, free_port, require_binary
from tests.patterns.sources.dataset import START, TEAM_ID, create_and_load
from tests.patterns.sources.test_clickhouse import _start_server, _stop_server

pytestmark = [pytest.mark.clickhouse, pytest.mark.django_db]

ROWS = 30_000
PAGE_SIZE = 500
# The service's ~8,000 rows come to about 2 MB in 17 pages; the server dies after about two pages have been sent.
KILL_AFTER_BYTES = 300_000


@dataclass(frozen=True)
class ThrowawayClickHouse:
    home: Path
    port: int
    http_port: int

    def start(self) -> None:
        _start_server(self.home, self.port, self.http_port)

    def kill(self) -> None:
        _stop_server(self.home)


@pytest.fixture
def clickhouse(tmp_path: Path) -> Iterator[ThrowawayClickHouse]:
    """A server of its own with the generated `logs` table; killing it leaves any shared server alone."""
    require_binary("clickhouse-server")
    server = ThrowawayClickHouse(tmp_path / "clickhouse", free_port(), free_port())
    server.start()
    try:
        admin = Client("127.0.0.1", port=server.port)
        create_and_load(admin, table="logs", rows=ROWS)
        admin.disconnect()
        yield server
    finally:
        server.kill()


@pytest.fixture
def relay(clickhouse: ThrowawayClickHouse) -> Iterator[TcpRelay]:
    """The app's way to the server; it kills the server once the analysis has read about two pages."""
    forwarder = TcpRelay(clickhouse.port, after_bytes=KILL_AFTER_BYTES, trip=clickhouse.kill)
    try:
        yield forwarder
    finally:
        forwarder.close()


def _service_lines(server: ThrowawayClickHouse) -> int:
    admin = Client("127.0.0.1", port=server.port)
    try:
        ((count,),) = admin.execute(
            "SELECT count() FROM logs WHERE team_id = %(team)s AND service_name = 'worker'", {"team": TEAM_ID}
        )
    finally:
        admin.disconnect()
    return int(count)


@pytest.mark.usefixtures("loopback_peers")
def test_clickhouse_killed_mid_analysis_fails_the_run_writes_nothing_and_the_next_run_counts_each_line_once(
    team: Team, clickhouse: ThrowawayClickHouse, relay: TcpRelay
) -> None:
    expected = _service_lines(clickhouse)
    team.clickhouse_url = f"clickhouse://127.0.0.1:{relay.port}/default"
    team.clickhouse_team_id = TEAM_ID
    team.save()
    options = {"table": "logs", "schema": "compat", "page_size": PAGE_SIZE, "connect_timeout": 2}
    service = Service.objects.create(
        team=team,
        name="worker",
        source_kind=Service.SourceKind.CLICKHOUSE,
        source_config={"options": options},
        analysis_watermark=START,
    )

    outcome = run_pipeline.delay(service_id=service.pk).get()

    assert relay.tripped.is_set(), "the server was killed while the run was reading"
    failed = AnalysisRun.objects.get(service=service)
    assert failed.status == AnalysisRun.Status.FAILED
    assert "SourceUnavailableError" in failed.error and "unreachable" in failed.error
    assert outcome == f"analysis failed: {failed.error}"
    service.refresh_from_db()
    assert service.analysis_watermark == START and service.miner_state == {}
    assert not Pattern.objects.filter(service=service).exists()
    assert not PatternWindow.objects.filter(service=service).exists()
    assert not PolicyVersion.objects.filter(service=service).exists()

    clickhouse.start()
    outcome = run_pipeline.delay(service_id=service.pk).get()

    assert outcome.startswith(f"analysed {expected} lines; version 1 ")
    succeeded = AnalysisRun.objects.filter(service=service).latest("created_at")
    assert succeeded.status == AnalysisRun.Status.SUCCEEDED and succeeded.lines_read == expected
    assert PatternWindow.objects.filter(service=service).aggregate(n=Sum("count"))["n"] == expected
    assert Pattern.objects.filter(service=service).aggregate(n=Sum("count"))["n"] == expected
    service.refresh_from_db()
    assert service.analysis_watermark == succeeded.window_end

    assert run_pipeline.delay(service_id=service.pk).get() == "no new lines; policy unchanged"
    assert PatternWindow.objects.filter(service=service).aggregate(n=Sum("count"))["n"] == expected
