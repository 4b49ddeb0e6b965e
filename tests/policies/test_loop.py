"""The automatic loop: analyse ▸ propose ▸ simulate ▸ publish, and what the demo ends with."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from model_bakery import baker

from lipservice.models import Team
from patterns.demo import write_demo_file
from patterns.models import Service
from policies.loop import pipeline_run
from policies.models import AuditEntry, PolicyVersion

pytestmark = pytest.mark.django_db

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_load_demo_ends_with_an_active_policy_per_service_made_by_the_loop(tmp_path: Path, settings: Any) -> None:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    out = StringIO()
    with mock.patch("django.utils.timezone.now", return_value=END):
        call_command(
            "load_demo",
            "--scale",
            "0.05",
            "--days",
            "1",
            "--end",
            END.isoformat(),
            "--directory",
            str(tmp_path),
            stdout=out,
        )
    services = Service.objects.filter(team__name="demo")
    assert services.count() == 3
    for service in services:
        active = PolicyVersion.objects.get(service=service, status="active")
        assert active.generated_by == "rules"
        assert active.simulation["method"] == "replay"
        assert active.simulation["errors_kept"] == active.simulation["errors_total"]
        assert active.simulation["reduction_bytes"] > 0
        assert active.created_by == "system:pipeline"
        assert AuditEntry.objects.filter(service=service, action="policy.published").exists()


def test_without_auto_publish_the_proposal_waits(team: Team, tmp_path: Path, settings: Any) -> None:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    path = tmp_path / "svc.jsonl.gz"
    write_demo_file(path=path, service="payments-worker", end=END, days=1, scale=0.05, seed=1)
    service = baker.make(
        Service,
        team=team,
        name="payments-worker",
        source_kind="file",
        source_config={"path": str(path)},
        auto_publish=False,
    )
    with mock.patch("django.utils.timezone.now", return_value=END):
        result = pipeline_run(service_id=service.pk)
    assert "proposed" in result
    version = PolicyVersion.objects.get(service=service)
    assert version.status == "proposed" and version.simulation["verdict"]["passes"] is True
    with mock.patch("django.utils.timezone.now", return_value=END):
        assert pipeline_run(service_id=service.pk) == "no new lines; policy unchanged"
    assert PolicyVersion.objects.filter(service=service).count() == 1
