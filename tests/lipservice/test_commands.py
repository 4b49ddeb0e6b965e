"""Management commands: beat schedule sync, demo loading, admin user."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from lipservice.models import Team
from lipservice.schedule import SCHEDULE
from patterns.models import Service

pytestmark = pytest.mark.django_db


def test_setup_periodic_tasks_is_idempotent_and_keeps_a_pause() -> None:
    call_command("setup_periodic_tasks", stdout=StringIO())
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= set(SCHEDULE)
    name = next(iter(SCHEDULE))
    PeriodicTask.objects.filter(name=name).update(enabled=False)
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    assert "0 created, 0 updated, 0 removed" in out.getvalue()
    assert PeriodicTask.objects.get(name=name).enabled is False


def test_setup_periodic_tasks_removes_jobs_no_longer_declared() -> None:
    call_command("setup_periodic_tasks", stdout=StringIO())
    stale = PeriodicTask.objects.get(name=next(iter(SCHEDULE)))
    stale.pk = None
    stale.name = "patterns: a job that was removed"
    stale.save()
    call_command("setup_periodic_tasks", stdout=StringIO())
    assert not PeriodicTask.objects.filter(name="patterns: a job that was removed").exists()


def test_load_demo_creates_team_services_and_logs_idempotently(tmp_path: Path, settings: Any) -> None:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    args = ["--scale", "0.05", "--days", "1", "--end", "2026-11-01T00:00:00+00:00", "--directory", str(tmp_path)]
    call_command("load_demo", *args, stdout=StringIO())
    first = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.jsonl.gz")}
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    assert "up to date" in out.getvalue()
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.jsonl.gz")} == first
    team = Team.objects.get(name="demo")
    services = Service.objects.filter(team=team)
    assert services.count() == 3
    for service in services:
        assert Path(service.source_config["path"]).exists()


def test_demo_logs_are_deterministic_and_realistic() -> None:
    from datetime import UTC, datetime

    from patterns.demo import generate

    end = datetime(2026, 11, 1, tzinfo=UTC)
    first = [line.as_json() for line in generate(service="checkout-api", end=end, days=1, scale=0.2)]
    second = [line.as_json() for line in generate(service="checkout-api", end=end, days=1, scale=0.2)]
    assert first == second
    lines = list(generate(service="checkout-api", end=end, days=2, scale=0.2))
    severities = {line.severity for line in lines}
    assert {"DEBUG", "INFO", "WARN", "ERROR"} <= severities
    assert any("Traceback" in line.body for line in lines)
    assert any(line.body.startswith("GET /healthz") for line in lines)
    assert sum(1 for line in lines if line.trace_id) > len(lines) / 2
    assert [line.timestamp for line in lines] == sorted(line.timestamp for line in lines)


def test_ensure_admin_uses_the_configured_password(monkeypatch: pytest.MonkeyPatch) -> None:
    Team.objects.create(name="demo")
    monkeypatch.setenv("LIPSERVICE_DEMO_ADMIN_PASSWORD", "correct horse battery")
    call_command("ensure_admin", stdout=StringIO())
    call_command("ensure_admin", stdout=StringIO())
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("correct horse battery")
    assert admin.teams.filter(name="demo").exists()
