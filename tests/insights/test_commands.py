"""The insights management commands print the report and run scans."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from lipservice.models import Team
from tests.insights.test_api import _usage


@pytest.mark.django_db
def test_report_prints_services_total_and_backtest(team: Team) -> None:
    _usage(team)
    out = StringIO()
    call_command("insights_report", team.name, stdout=out)
    text = out.getvalue()
    assert "checkout" in text and "search" in text and "TOTAL" in text
    assert "7-day backtest MAPE" in text and "n/a" not in text


@pytest.mark.django_db
def test_scan_reports_quiet_services(team: Team) -> None:
    _usage(team)
    out = StringIO()
    call_command("scan_anomalies", team.name, "--service", "search", stdout=out)
    assert out.getvalue().strip() == "search: nothing unusual"
    with pytest.raises(CommandError):
        call_command("scan_anomalies", "nobody")
