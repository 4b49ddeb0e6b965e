"""Daily volume forecasts: a robust linear trend times day-of-week factors, with a rolling-origin backtest.

Why this and not Holt-Winters: logs have one-day incidents (a stack-trace storm doubles a day's bytes), and least
squares or exponential smoothing chase them for weeks. Medians do not: the weekday factors are medians of
day / centred-weekly-mean ratios, the trend is a Theil-Sen line through the de-seasonalised days.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

WEEK = 7
MIN_DAYS_FOR_SEASON = 10
MIN_TRAIN_DAYS = 14
BACKTEST_ORIGINS = 7


@dataclass(frozen=True)
class SeasonalTrend:
    intercept: float
    slope: float
    factors: tuple[float, ...]  # by weekday, Monday = 0
    start: date

    def predict(self, day: date) -> float:
        t = (day - self.start).days
        return max(0.0, (self.intercept + self.slope * t) * self.factors[day.weekday()])


def fit(values: Sequence[float], *, start: date) -> SeasonalTrend:
    """Fit on consecutive daily totals beginning at `start`; at least two days are needed."""
    y = np.asarray(values, dtype=float)
    if y.size < 2:
        raise ValueError("at least two days are needed to fit a trend")
    factors = _weekday_factors(y, start)
    weekdays = np.array([(start + timedelta(days=i)).weekday() for i in range(y.size)])
    deseasoned = y / np.asarray(factors)[weekdays]
    t = np.arange(y.size, dtype=float)
    i, j = np.triu_indices(y.size, k=1)
    slope = float(np.median((deseasoned[j] - deseasoned[i]) / (t[j] - t[i])))
    intercept = float(np.median(deseasoned - slope * t))
    return SeasonalTrend(intercept=intercept, slope=slope, factors=factors, start=start)


def _weekday_factors(y: np.ndarray, start: date) -> tuple[float, ...]:
    if y.size < MIN_DAYS_FOR_SEASON:
        return (1.0,) * WEEK
    kernel = np.ones(WEEK) / WEEK
    centred = np.convolve(y, kernel, mode="valid")  # centred[k] is the mean of days k..k+6, centred on k+3
    ratios: dict[int, list[float]] = {d: [] for d in range(WEEK)}
    for k, mean in enumerate(centred):
        day = k + WEEK // 2
        if mean > 0:
            ratios[(start + timedelta(days=day)).weekday()].append(float(y[day] / mean))
    raw = [float(np.median(ratios[d])) if ratios[d] else 1.0 for d in range(WEEK)]
    scale = float(np.mean(raw)) or 1.0
    return tuple(max(r / scale, 1e-6) for r in raw)


def forecast(values: Sequence[float], *, start: date, horizon: int) -> list[float]:
    """The next `horizon` days after the last value."""
    model = fit(values, start=start)
    first = start + timedelta(days=len(values))
    return [model.predict(first + timedelta(days=h)) for h in range(horizon)]


@dataclass(frozen=True)
class Backtest:
    mape: float
    horizon_days: int
    origins: int
    points: int


def backtest(
    values: Sequence[float], *, start: date, horizon: int = WEEK, origins: int = BACKTEST_ORIGINS
) -> Backtest | None:
    """Mean absolute percentage error of `horizon`-day forecasts from the last `origins` cut-off days.

    Each origin trains on every day before it (at least MIN_TRAIN_DAYS) and forecasts the next `horizon` days, all
    of which must be known; days with a zero actual are left out of the mean. None when history is too short.
    """
    n = len(values)
    cuts = [c for c in range(n - horizon, MIN_TRAIN_DAYS - 1, -1)][:origins]
    errors: list[float] = []
    for cut in cuts:
        predicted = forecast(values[:cut], start=start, horizon=horizon)
        for h, guess in enumerate(predicted):
            actual = values[cut + h]
            if actual > 0:
                errors.append(abs(guess - actual) / actual)
    if not errors:
        return None
    return Backtest(mape=float(np.mean(errors)), horizon_days=horizon, origins=len(cuts), points=len(errors))


@dataclass(frozen=True)
class DayPoint:
    day: date
    value: float
    forecast: bool


@dataclass(frozen=True)
class MonthProjection:
    month_start: date
    month_end: date
    series: tuple[DayPoint, ...]
    actual_to_date: float
    projected_total: float
    backtest: Backtest | None


def project_month(values: Sequence[float], *, start: date, today: date) -> MonthProjection:
    """Month-end total for the month of `today`: complete days so far, plus forecasts from `today` on.

    `values` are complete days from `start` up to the day before `today` (today's partial count is replaced by its
    forecast). Missing trailing days between the data and `today` are forecast too.
    """
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    end_of_data = start + timedelta(days=len(values))  # first day without data
    series: list[DayPoint] = []
    actual = 0.0
    for i, value in enumerate(values):
        day = start + timedelta(days=i)
        if day >= first:
            series.append(DayPoint(day, float(value), False))
            actual += float(value)
    horizon = (last - end_of_data).days + 1
    predicted = forecast(values, start=start, horizon=horizon) if len(values) >= 2 and horizon > 0 else []
    projected = actual
    for h, guess in enumerate(predicted):
        day = end_of_data + timedelta(days=h)
        if day >= first:
            series.append(DayPoint(day, guess, True))
            projected += guess
    return MonthProjection(
        month_start=first,
        month_end=last,
        series=tuple(series),
        actual_to_date=actual,
        projected_total=projected,
        backtest=backtest(values, start=start),
    )
