"""Projection: trend and weekly season recovered; backtest error within 10% at 7 days ahead."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from insights.engine.projection import backtest, fit, forecast, project_month

START = date(2026, 8, 3)  # a Monday
SEASON = (1.0, 1.08, 1.05, 1.02, 0.95, 0.62, 0.55)


def seasonal_series(days: int, *, level: float, slope: float, noise: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [
        (level + slope * i) * SEASON[(START + timedelta(days=i)).weekday()] * float(rng.normal(1.0, noise))
        for i in range(days)
    ]


def test_fit_recovers_known_trend_and_weekly_factors() -> None:
    values = seasonal_series(56, level=1000, slope=15, noise=0.0, seed=0)
    model = fit(values, start=START)
    mean = sum(SEASON) / 7
    assert model.slope / mean == pytest.approx(15, rel=0.05)
    for weekday, factor in enumerate(model.factors):
        assert factor == pytest.approx(SEASON[weekday] / mean, rel=0.05)


@pytest.mark.parametrize(("slope", "noise", "seed"), [(15.0, 0.03, 1), (-5.0, 0.05, 2), (40.0, 0.04, 3)])
def test_backtest_mape_on_generated_series_is_within_ten_percent(slope: float, noise: float, seed: int) -> None:
    values = seasonal_series(56, level=1000, slope=slope, noise=noise, seed=seed)
    result = backtest(values, start=START, horizon=7)
    assert result is not None
    print(f"\ngenerated series (trend {slope:+}/day, weekly season, noise {noise:.0%}): 7-day MAPE {result.mape:.2%}")
    assert result.horizon_days == 7 and result.origins == 7 and result.points == 49
    assert result.mape <= 0.10


def test_a_one_day_incident_barely_moves_the_forecast() -> None:
    clean = seasonal_series(42, level=1000, slope=10, noise=0.0, seed=0)
    spiked = list(clean)
    spiked[30] *= 3
    assert forecast(spiked, start=START, horizon=7) == pytest.approx(forecast(clean, start=START, horizon=7), rel=0.02)


def test_backtest_needs_two_weeks_of_training_plus_the_horizon() -> None:
    assert backtest(seasonal_series(20, level=10, slope=0, noise=0, seed=0), start=START) is None
    assert backtest(seasonal_series(21, level=10, slope=0, noise=0, seed=0), start=START) is not None


def test_month_projection_adds_actual_days_and_forecasts() -> None:
    values = [100.0] * 40  # flat, no season: every forecast is 100
    today = START + timedelta(days=40)  # 2026-09-12
    result = project_month(values, start=START, today=today)
    assert result.month_start == date(2026, 9, 1) and result.month_end == date(2026, 9, 30)
    assert result.actual_to_date == pytest.approx(1100.0)  # 1..11 September
    assert result.projected_total == pytest.approx(3000.0)
    assert [p.forecast for p in result.series] == [False] * 11 + [True] * 19
