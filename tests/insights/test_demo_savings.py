"""On the demo: the savings measured from SDK counts agree with the simulation (within 5%), the volume is a small
production team's, its incident is found as one incident per service, and the anomaly boost shows in kept lines."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command

from insights.models import Incident
from insights.selectors import _savings_check, period_for, run_rates, team_cost
from lipservice.models import Team
from patterns.models import Pattern, PatternWindow, Service

pytestmark = pytest.mark.django_db

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_demo_savings_measured_by_sdk_counts_match_the_simulation(tmp_path: Path, settings: Any) -> None:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    with mock.patch("django.utils.timezone.now", return_value=END):
        call_command(
            "load_demo",
            "--scale",
            "0.1",
            "--days",
            "5",
            "--end",
            END.isoformat(),
            "--directory",
            str(tmp_path),
            stdout=StringIO(),
        )
    for service in Service.objects.filter(team__name="demo"):
        check = _savings_check(service)
        assert check is not None and check["bytes_seen"] > 0, service.name
        print(
            f"\n{service.name}: predicted {check['predicted_reduction']:.4f}, "
            f"measured {check['measured_reduction']:.4f}, relative error {check['relative_error']:.2%}"
        )
        assert check["agrees"] is True
        assert check["measured_reduction"] > 0.5
    team = Team.objects.get(name="demo")
    rates = run_rates(
        team=team, period=(period := period_for(team=team, days=5, end=END)), cost=team_cost(team=team, period=period)
    )
    assert rates["policy_basis"] == "measured" and rates["saving_share"] >= 0.5
    assert 10 * 10**9 <= rates["without_bytes"] <= 200 * 10**9  # tens of GB a month
    incident_start = END - timedelta(hours=34)
    for name in ("checkout-api", "payments-worker", "search-gateway"):
        incident = Incident.objects.get(service__name=name, window_start=incident_start)
        assert incident.severity == "critical" and incident.anomalies.count() >= 2, name
        assert incident.explanation["likely_causes"] and incident.explanation["what_changed"], name
    storm = Pattern.objects.get(service__name="checkout-api", template__startswith="cache hit")
    share = {
        w.bucket_start: w.sdk_kept / w.sdk_seen for w in PatternWindow.objects.filter(pattern=storm, sdk_seen__gt=0)
    }
    before = [v for k, v in share.items() if k < incident_start]
    assert share[incident_start] > max(0.8, 2 * statistics.median(before))
