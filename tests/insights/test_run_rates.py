"""Run-rates under the policy in force (measured from SDK counts, else simulated), the saving, and the proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from model_bakery import baker

from insights.selectors import MIN_MEASURED_HOURS, period_for, run_rates, service_proof, team_cost
from lipservice.models import Team
from patterns.models import Service
from policies.models import PolicyVersion
from tests.insights.conftest import add_window, make_pattern

END = datetime(2026, 11, 20, tzinfo=UTC)
GB = 10**9


def _service(team: Team, *, name: str, policy_hours: int | None, kept_share: float, reduction: float | None) -> Service:
    """Ten days of one pattern at 1 GB/hour; from `policy_hours` before END a policy keeps `kept_share` of it."""
    service = baker.make(Service, team=team, name=name, source_kind=Service.SourceKind.SDK)
    noisy = make_pattern(service, "noisy", severity_counts={"DEBUG": 10}, count=10)
    errors = make_pattern(service, "boom", severity_counts={"ERROR": 10}, count=10)
    since = END - timedelta(hours=policy_hours) if policy_hours is not None else END
    for h in range(1, 24 * 10 + 1):
        bucket = END - timedelta(hours=h)
        kept = round(GB * kept_share) if bucket >= since else GB
        add_window(
            noisy, bucket, sdk_seen=1000, sdk_kept=1000 if kept == GB else 300, sdk_bytes_seen=GB, sdk_bytes_kept=kept
        )
        add_window(errors, bucket, sdk_seen=5, sdk_kept=5, sdk_bytes_seen=1000, sdk_bytes_kept=1000, errors=5)
    if policy_hours is not None:
        baker.make(
            PolicyVersion,
            service=service,
            number=1,
            status=PolicyVersion.Status.ACTIVE,
            published_at=since,
            simulation={} if reduction is None else {"reduction_bytes": reduction},
            document={},
        )
    return service


def _rates(team: Team) -> dict[str, Any]:
    period = period_for(team=team, days=10, end=END)
    return run_rates(team=team, period=period, cost=team_cost(team=team, period=period))


@pytest.mark.django_db
def test_the_policy_in_force_is_priced_from_what_it_kept_since_it_took_effect(team: Team) -> None:
    _service(team, name="api", policy_hours=48, kept_share=0.3, reduction=0.7)
    rates = _rates(team)
    [row] = rates["services"]
    assert row["policy_basis"] == "measured" and row["keep_share"] == pytest.approx(0.3, abs=1e-4)
    assert "measured from 48 h of SDK counts" in row["with_policy_basis"]
    # Flat default price: the saving is the byte reduction.
    assert rates["saving_share"] == pytest.approx(0.7, abs=1e-3)
    assert Decimal(rates["without"]) - Decimal(rates["with_policy"]) == Decimal(rates["saving"])
    assert rates["without_bytes"] == pytest.approx(30 * 24 * (GB + 1000), rel=1e-3)
    # November 1st to END: 48 hours of it under the policy, 0.7 GB not sent each hour.
    assert rates["saved_this_month_bytes"] == pytest.approx(48 * 0.7 * GB, rel=1e-6)
    assert Decimal(rates["saved_this_month"]) > 0


@pytest.mark.django_db
def test_until_there_are_enough_kept_counts_the_simulation_sets_the_share(team: Team) -> None:
    _service(team, name="api", policy_hours=MIN_MEASURED_HOURS - 4, kept_share=0.5, reduction=0.6)
    [row] = _rates(team)["services"]
    assert row["policy_basis"] == "simulated" and row["keep_share"] == pytest.approx(0.4)
    assert "by its simulation (only 20 h of SDK counts so far)" in row["with_policy_basis"]


@pytest.mark.django_db
def test_a_service_without_a_policy_saves_nothing_and_rows_sum_to_the_team(team: Team) -> None:
    _service(team, name="api", policy_hours=48, kept_share=0.3, reduction=0.7)
    _service(team, name="web", policy_hours=None, kept_share=1.0, reduction=None)
    rates = _rates(team)
    web = next(r for r in rates["services"] if r["service"] == "web")
    assert web["policy_basis"] == "no_policy" and web["saving"] == 0 and web["keep_share"] == 1.0
    for field in ("without", "with_policy", "saving", "saved_this_month"):
        assert sum(Decimal(r[field]) for r in rates["services"]) == Decimal(rates[field]), field
    assert rates["policy_basis"] == "measured" and "1 of 2 services under a policy" in rates["with_policy_basis"]


@pytest.mark.django_db
@pytest.mark.parametrize(("kept_share", "drift"), [(0.3, False), (0.5, True)])
def test_the_proof_flags_a_measured_reduction_outside_the_band(team: Team, kept_share: float, drift: bool) -> None:
    service = _service(team, name="api", policy_hours=48, kept_share=kept_share, reduction=0.7)
    proof = service_proof(service=service, until=END)
    assert proof is not None
    assert proof["band_low"] == pytest.approx(0.665) and proof["band_high"] == pytest.approx(0.735)
    assert proof["drift"] is drift and proof["agrees"] is (not drift)
    assert (proof["errors_seen"], proof["errors_kept"]) == (48 * 5, 48 * 5)
    assert (proof["patterns_reported"], proof["patterns_kept"]) == (2, 2)
    assert proof["sdk_hours"] == 48
