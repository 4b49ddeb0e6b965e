"""Analysis runs: file and windowed source reads, exactly-once counting, clean failures, the API and commands."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from model_bakery import baker
from rest_framework.test import APIClient

from lipservice.models import Team
from patterns import connections
from patterns.analysis import analysis_execute, analysis_run_create, analysis_window_due
from patterns.demo import write_demo_file
from patterns.models import AnalysisRun, Pattern, PatternWindow, Service
from patterns.sources import SourceUnavailableError

pytestmark = pytest.mark.django_db

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("demo") / "checkout-api.jsonl.gz"
    count = write_demo_file(path=path, service="checkout-api", end=END, days=1, scale=0.05, seed=3)
    return path, count


@pytest.fixture
def file_service(team: Team, demo_file: tuple[Path, int], settings: Any) -> Service:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(demo_file[0].parent)]
    return baker.make(
        Service,
        team=team,
        name="checkout-api",
        source_kind="file",
        source_config={"path": str(demo_file[0]), "format": "jsonl"},
    )


def window_totals(service: Service) -> tuple[int, int, int]:
    agg = PatternWindow.objects.filter(service=service).aggregate(c=Sum("count"), b=Sum("bytes"), e=Sum("errors"))
    return agg["c"] or 0, agg["b"] or 0, agg["e"] or 0


def test_windowed_runs_count_every_line_once(file_service: Service, demo_file: tuple[Path, int]) -> None:
    start = END - timedelta(days=1)
    for hours in (6, 6, 12):
        run = analysis_run_create(service=file_service, start=start, end=start + timedelta(hours=hours), method="fetch")
        run = analysis_execute(run_id=run.pk)
        assert run.status == "succeeded", run.error
        start += timedelta(hours=hours)
    total_lines, total_bytes, _ = window_totals(file_service)
    assert total_lines == demo_file[1]
    assert Pattern.objects.filter(service=file_service).aggregate(c=Sum("count"))["c"] == demo_file[1]
    assert total_bytes == Pattern.objects.filter(service=file_service).aggregate(b=Sum("bytes"))["b"]
    file_service.refresh_from_db()
    assert file_service.analysis_watermark == END


def test_pattern_ids_are_stable_across_runs(file_service: Service) -> None:
    start = END - timedelta(days=1)
    run = analysis_execute(
        run_id=analysis_run_create(
            service=file_service, start=start, end=start + timedelta(hours=12), method="fetch"
        ).pk
    )
    first = dict(Pattern.objects.filter(service=file_service).values_list("pattern_id", "template"))
    analysis_execute(run_id=analysis_run_create(service=file_service, start=run.window_end, end=END, method="fetch").pk)
    after = set(Pattern.objects.filter(service=file_service).values_list("pattern_id", flat=True))
    assert set(first) <= after


def test_source_failure_mid_run_leaves_nothing_and_a_rerun_counts_once(
    file_service: Service, demo_file: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connections.source_for_service

    class Failing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def fetch_logs(self, **kwargs: Any) -> Iterator[Any]:
            for index, record in enumerate(self.inner.fetch_logs(**kwargs)):
                if index == 500:
                    raise SourceUnavailableError("connection lost", rows_delivered=index)
                yield record

    monkeypatch.setattr(connections, "source_for_service", lambda service: Failing(real(service)))
    run = analysis_run_create(service=file_service, start=END - timedelta(days=1), end=END, method="fetch")
    run = analysis_execute(run_id=run.pk)
    assert run.status == "failed"
    assert "connection lost" in run.error
    assert window_totals(file_service) == (0, 0, 0)
    assert not Pattern.objects.filter(service=file_service).exists()
    file_service.refresh_from_db()
    assert file_service.analysis_watermark is None
    monkeypatch.setattr(connections, "source_for_service", real)
    window = analysis_window_due(service=file_service, now=END)
    assert window == (END - timedelta(hours=168), END)
    rerun = analysis_execute(
        run_id=analysis_run_create(service=file_service, start=window[0], end=window[1], method="fetch").pk
    )
    assert rerun.status == "succeeded"
    assert window_totals(file_service)[0] == demo_file[1]


def test_a_concurrent_watermark_move_fails_the_slower_run(
    file_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connections.source_for_service

    class Racing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def fetch_logs(self, **kwargs: Any) -> Iterator[Any]:
            Service.objects.filter(pk=file_service.pk).update(analysis_watermark=END)  # another run finished
            yield from self.inner.fetch_logs(**kwargs)

    monkeypatch.setattr(connections, "source_for_service", lambda service: Racing(real(service)))
    run = analysis_run_create(service=file_service, start=END - timedelta(hours=2), end=END, method="fetch")
    run = analysis_execute(run_id=run.pk)
    assert run.status == "failed" and "another analysis" in run.error
    assert window_totals(file_service) == (0, 0, 0)


def test_unreadable_source_fails_with_a_reason(team: Team) -> None:
    service = baker.make(Service, team=team, name="x", source_kind="file", source_config={"path": "/nope.log"})
    run = analysis_execute(
        run_id=analysis_run_create(service=service, start=END - timedelta(hours=1), end=END, method="fetch").pk
    )
    assert run.status == "failed" and "/nope.log" in run.error


def test_analyze_logs_command_stores_patterns_and_refuses_a_repeat(team: Team, demo_file: tuple[Path, int]) -> None:
    out = StringIO()
    call_command("analyze_logs", str(demo_file[0]), "--service", "imported", "--team", team.name, stdout=out)
    assert f"{demo_file[1]:,} lines" in out.getvalue()
    service = Service.objects.get(team=team, name="imported")
    assert window_totals(service)[0] == demo_file[1]
    with pytest.raises(CommandError, match="already analysed"):
        call_command("analyze_logs", str(demo_file[0]), "--service", "imported", "--team", team.name)


@pytest.mark.django_db(transaction=True)
def test_analyze_api_runs_posted_lines(client: APIClient, team: Team) -> None:
    baker.make(Service, team=team, name="api")
    lines = [{"message": f"user {i} logged in from 10.0.0.{i}", "severity": "info"} for i in range(40)]
    lines.append({"message": "payment failed for order 17", "severity": "E"})
    response = client.post("/api/v1/patterns/analyze", {"service": "api", "lines": lines}, format="json")
    assert response.status_code == 202
    run = client.get(response["Location"]).json()
    assert run["status"] == "succeeded" and run["lines_read"] == 41
    patterns = client.get("/api/v1/patterns/api").json()["results"]
    assert {p["template"] for p in patterns} == {"user <NUM> logged in from <IP>", "payment failed for order <NUM>"}


@pytest.mark.parametrize(
    "body",
    [
        {"service": "api"},
        {"service": "api", "lines": [{"message": "x"}], "start": "2026-11-01T00:00:00Z"},
        {"service": "api", "start": "2026-11-01T00:00:00Z"},
        {"service": "api", "start": "2026-11-01T01:00:00Z", "end": "2026-11-01T00:00:00Z"},
        {"service": "api", "lines": [{"severity": "info"}]},
    ],
)
def test_analyze_api_refuses_bad_requests(client: APIClient, team: Team, body: dict[str, Any]) -> None:
    baker.make(Service, team=team, name="api")
    response = client.post("/api/v1/patterns/analyze", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_analysis_run_of_another_team_is_404(client: APIClient, other_team: Team) -> None:
    service = baker.make(Service, team=other_team, name="billing")
    run = baker.make(AnalysisRun, service=service)
    assert client.get(f"/api/v1/patterns/runs/{run.pk}").status_code == 404


def test_mine_patterns_needs_no_database_and_writes_assignments(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "".join(f"2026-11-01 12:00:{i:02d} INFO worker {i} finished job {i * 7}\n" for i in range(30))
        + "\n2026-11-01 12:01:00 ERROR disk /dev/sda1 is full\n"
    )
    out = tmp_path / "assign.csv"
    stdout = StringIO()
    call_command(
        "mine_patterns",
        str(log),
        "--log-format",
        "<Date> <Time> <Level> <Content>",
        "--assignments",
        str(out),
        "--json",
        stdout=stdout,
    )
    summary = json.loads(stdout.getvalue())
    assert summary["lines"] == 31 and summary["patterns"] == 2
    rows = out.read_text().splitlines()
    assert rows[0] == "LineId,PatternId,Template"
    assert len(rows) == 32
    assert rows[-1].startswith("32,")  # the blank line 31 is skipped, LineIds stay those of the file


@pytest.mark.parametrize(
    ("content", "lines", "unparsed", "truncated"),
    [
        (b"", 0, 0, 0),
        (b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n" * 50, 100, 50, 0),
        (b"\xc3\x28 invalid utf8 \xa0\xa1\n" * 5, 5, 0, 0),
        (b"x" * 1_200_000, 1, 1, 1),
    ],
)
def test_mine_patterns_survives_bad_input(
    tmp_path: Path, content: bytes, lines: int, unparsed: int, truncated: int
) -> None:
    log = tmp_path / "bad.log.gz"
    with gzip.open(log, "wb") as handle:
        handle.write(content)
    stdout = StringIO()
    call_command("mine_patterns", str(log), "--log-format", "<Date> <Level> <Content>", "--json", stdout=stdout)
    summary = json.loads(stdout.getvalue())
    assert (summary["lines"], summary["unparsed"], summary["truncated"]) == (lines, unparsed, truncated)


def test_mine_patterns_refuses_a_format_without_content(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("hello\n")
    with pytest.raises(CommandError, match="Content"):
        call_command("mine_patterns", str(log), "--log-format", "<Date> <Level>")
