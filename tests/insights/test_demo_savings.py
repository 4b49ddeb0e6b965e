"""On the demo, the savings measured from SDK counts agree with what the simulator predicted (within 5%)."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command

from insights.selectors import _savings_check
from patterns.models import Service

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
