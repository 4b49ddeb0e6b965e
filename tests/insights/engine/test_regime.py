"""Projections that know the policy history: forecast the produced volume, send the share the policy keeps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from insights.engine.projection import forecast
from insights.engine.regime import project_month_with_policy, regime_backtest, regime_first_day

START = date(2026, 11, 2)  # a Monday


def _series(days: int, cut_day: int, keep: float) -> tuple[list[float], list[float]]:
    weekly = [1.0, 1.1, 1.1, 1.05, 1.0, 0.6, 0.5]
    without = [1e9 * weekly[(START + timedelta(days=i)).weekday()] for i in range(days)]
    sent = [v if i < cut_day else v * keep for i, v in enumerate(without)]
    return without, sent


def test_the_forecast_after_a_cut_sends_the_share_kept_and_keeps_the_counterfactual() -> None:
    without, sent = _series(35, 20, 0.3)
    today = START + timedelta(days=35)  # 2026-12-07
    result = project_month_with_policy(
        without, sent, start=START, today=today, regime_start=START + timedelta(days=20), keep_share=0.3
    )
    forecast_days = [p for p in result.series if p.forecast]
    assert forecast_days[0].day == today and forecast_days[-1].day == date(2026, 12, 31)
    for point in forecast_days:
        assert point.sent == pytest.approx(point.without * 0.3)
    actual = [p for p in result.series if not p.forecast]
    assert [p.day.day for p in actual] == list(range(1, 7))
    assert result.projected_total == pytest.approx(sum(p.sent for p in result.series))
    assert result.counterfactual_total == pytest.approx(sum(p.without for p in result.series))
    assert result.projected_total < 0.4 * result.counterfactual_total


def test_the_regime_backtest_forecasts_the_cut_level_where_a_trend_on_sent_bytes_does_not() -> None:
    without, sent = _series(35, 20, 0.3)
    result = regime_backtest(without, sent, start=START, regime_start=START + timedelta(days=20))
    assert result is not None and result.horizon_days == 7 and result.origins == 7
    assert result.mape < 0.01
    naive = forecast(sent[:22], start=START, horizon=7)
    assert max(abs(g - a) / a for g, a in zip(naive, sent[22:29], strict=True)) > 0.5


@pytest.mark.parametrize(("regime_day", "days", "expected"), [(34, 35, None), (33, 35, 1), (30, 35, 4)])
def test_the_backtest_horizon_shrinks_to_the_regime_and_is_none_when_too_young(
    regime_day: int, days: int, expected: int | None
) -> None:
    without, sent = _series(days, regime_day, 0.5)
    result = regime_backtest(without, sent, start=START, regime_start=START + timedelta(days=regime_day))
    assert (result.horizon_days if result else None) == expected


def test_a_policy_published_during_a_day_rules_from_the_next() -> None:
    assert regime_first_day(date(2026, 12, 3), midnight=False) == date(2026, 12, 4)
    assert regime_first_day(date(2026, 12, 3), midnight=True) == date(2026, 12, 3)
    assert regime_first_day(None, midnight=False) is None
