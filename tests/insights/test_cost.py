"""Before/after bytes per source kind, dollars that reconcile patterns → service → team, and the savings check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from model_bakery import baker

from insights.engine.pricing import gigabytes
from insights.selectors import pattern_bytes, period_for, policy_savings_agreement, team_cost
from lipservice.models import Team
from patterns.models import Pattern, Service
from policies.models import PolicyVersion
from tests.insights.conftest import add_window, make_pattern

END = datetime(2026, 11, 20, tzinfo=UTC)
GB = 10**9


def _sdk_service(team: Team) -> tuple[Service, Pattern, Pattern]:
    service = baker.make(Service, team=team, name="api", source_kind=Service.SourceKind.SDK)
    noisy = make_pattern(service, "p_noisy", severity_counts={"DEBUG": 10})
    errors = make_pattern(service, "p_err", severity_counts={"ERROR": 10})
    for h in range(48):
        add_window(
            noisy,
            END - timedelta(hours=48 - h),
            sdk_seen=1000,
            sdk_kept=10,
            sdk_bytes_seen=GB,
            sdk_bytes_kept=GB // 100,
        )
        add_window(
            errors, END - timedelta(hours=48 - h), sdk_seen=10, sdk_kept=10, sdk_bytes_seen=10**7, sdk_bytes_kept=10**7
        )
    return service, noisy, errors


def _posthog_service(team: Team) -> tuple[Service, Pattern]:
    """Reads from PostHog after a policy at rate 0.1 was published: it only sees kept lines."""
    service = baker.make(Service, team=team, name="web", source_kind=Service.SourceKind.POSTHOG)
    pattern = make_pattern(service, "p_info", severity_counts={"INFO": 90, "ERROR": 10})
    baker.make(
        PolicyVersion,
        service=service,
        number=1,
        status=PolicyVersion.Status.ACTIVE,
        published_at=END - timedelta(hours=24),
        document={"patterns": [{"id": "p_info", "template": "x", "rate": 0.1}], "default_rate": 1.0},
    )
    add_window(pattern, END - timedelta(hours=30), count=100, bytes=10**6, errors=0)  # before the policy: rate 1
    add_window(pattern, END - timedelta(hours=2), count=100, bytes=10**6, errors=20)  # 20 errors kept at rate 1
    return service, pattern


@pytest.mark.django_db
def test_sdk_counts_give_before_and_after(team: Team) -> None:
    service, noisy, errors = _sdk_service(team)
    rows = pattern_bytes(service=service, start=END - timedelta(days=30), end=END)
    assert (rows[noisy.pk].bytes_before, rows[noisy.pk].bytes_after) == (48 * GB, 48 * GB // 100)
    assert (rows[errors.pk].bytes_before, rows[errors.pk].bytes_after) == (48 * 10**7, 48 * 10**7)


@pytest.mark.django_db
def test_kept_only_sources_are_reweighted_by_the_rate_in_force(team: Team) -> None:
    service, pattern = _posthog_service(team)
    row = pattern_bytes(service=service, start=END - timedelta(days=30), end=END)[pattern.pk]
    # Before the policy: 1 MB as is. After: 20% error bytes at rate 1, 80% at rate 0.1.
    assert row.bytes_after == 2 * 10**6
    assert row.bytes_before == pytest.approx(10**6 + 0.2 * 10**6 + 0.8 * 10**6 / 0.1)
    assert row.lines_before == pytest.approx(100 + 20 + 80 / 0.1)


@pytest.mark.django_db
def test_file_sources_saw_everything_and_dropped_nothing(team: Team) -> None:
    service = baker.make(Service, team=team, name="batch", source_kind=Service.SourceKind.FILE)
    pattern = make_pattern(service, "p")
    add_window(pattern, END - timedelta(hours=1), count=10, bytes=5000)
    row = pattern_bytes(service=service, start=END - timedelta(days=1), end=END)[pattern.pk]
    assert row.bytes_before == row.bytes_after == 5000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "pricing",
    [
        None,
        {
            "tiers": [
                {"up_to_gb": 50, "price_per_gb": 0},
                {"up_to_gb": 5000, "price_per_gb": 0.5},
                {"price_per_gb": 0.35},
            ]
        },
        {"tiers": [{"price_per_gb": 0.3}], "retention": {"days": 90, "price_per_gb_month": 0.05, "multiplier": 1.2}},
    ],
)
def test_sums_reconcile_from_patterns_to_services_to_team(team: Team, pricing: dict[str, object] | None) -> None:
    if pricing is not None:
        team.config = {"pricing": pricing}
        team.save()
    _sdk_service(team)
    _posthog_service(team)
    period = period_for(team=team, days=30, end=END)
    cost = team_cost(team=team, period=period)
    assert cost.before > cost.after >= 0
    assert sum(s.before for s in cost.services) == cost.before
    assert sum(s.after for s in cost.services) == cost.after
    assert sum(s.savings for s in cost.services) == cost.savings
    for service in cost.services:
        assert sum(p.before for p in service.patterns) == service.before
        assert sum(p.after for p in service.patterns) == service.after
        assert sum(p.savings for p in service.patterns) == service.savings
    # Observed for 48 h of a 30-day month: monthly bytes = bytes * 15.
    assert period.month_factor == Decimal(15)
    if pricing is None:
        assert cost.before == (gigabytes(cost.bytes_before) * 15 * Decimal("0.5")).quantize(Decimal("0.000001"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kept", "agrees"),
    [(300, True), (330, True), (340, False), (200, False)],
)
def test_measured_savings_are_compared_with_the_simulation(team: Team, kept: int, agrees: bool) -> None:
    """The simulator predicted a 70% byte reduction; the SDK then saw 1000 bytes and kept `kept` per hour."""
    service = baker.make(Service, team=team, name="api")
    pattern = make_pattern(service, "p")
    version = baker.make(
        PolicyVersion,
        service=service,
        number=1,
        status=PolicyVersion.Status.ACTIVE,
        published_at=END - timedelta(hours=10),
        simulation={"bytes_total": 10_000, "bytes_kept": 3_000, "reduction_bytes": 0.7},
        document={},
    )
    add_window(pattern, END - timedelta(hours=12), sdk_seen=1, sdk_bytes_seen=1000, sdk_bytes_kept=1000)  # before
    for h in range(1, 6):
        add_window(pattern, END - timedelta(hours=h), sdk_seen=1, sdk_bytes_seen=1000, sdk_bytes_kept=kept)
    result = policy_savings_agreement(version=version)
    assert result.bytes_seen == 5000 and result.bytes_kept == 5 * kept
    assert result.measured_reduction == pytest.approx(1 - kept / 1000)
    assert result.agrees is agrees


@pytest.mark.django_db
def test_savings_agreement_is_unknown_without_sdk_counts_or_a_simulation(team: Team) -> None:
    service = baker.make(Service, team=team, name="api")
    version = baker.make(
        PolicyVersion, service=service, number=1, published_at=END, simulation={"reduction_bytes": 0.5}, document={}
    )
    assert policy_savings_agreement(version=version).agrees is None
    pattern = make_pattern(service, "p")
    add_window(pattern, END + timedelta(hours=1), sdk_seen=1, sdk_bytes_seen=1000, sdk_bytes_kept=500)
    assert policy_savings_agreement(version=version).agrees is True
    version.simulation = {}
    version.save()
    result = policy_savings_agreement(version=version)
    assert (result.agrees, result.predicted_reduction, result.measured_reduction) == (None, None, 0.5)
