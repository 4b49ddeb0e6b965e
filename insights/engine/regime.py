"""Month-end forecasts that know the policy history: the volume without LipService, and what the policy in force keeps.

A policy changes what is sent overnight (a 70% cut on the day it is published), so a trend fitted to the bytes sent
carries the old level through the rest of the month. The volume the application produces does not change with the
policy, so it is the series to forecast (the counterfactual without LipService); the policy in force keeps a share
of it (measured from SDK counts since it took effect, or from its simulation until there are enough counts). The
backtest replays that rule for the current regime only: each origin fits the produced volume before it and applies
the share kept between the regime's start and the origin, against what was actually sent.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from insights.engine.projection import WEEK, Backtest, fit

BACKTEST_ORIGINS = 7
MIN_FIT_DAYS = 2


@dataclass(frozen=True)
class RegimePoint:
    day: date
    sent: float
    without: float
    forecast: bool


@dataclass(frozen=True)
class RegimeProjection:
    month_start: date
    month_end: date
    series: tuple[RegimePoint, ...]
    sent_to_date: float
    without_to_date: float
    projected_total: float
    counterfactual_total: float
    regime_start: date | None
    keep_share: float
    backtest: Backtest | None


def regime_first_day(published: date | None, *, midnight: bool) -> date | None:
    """The first whole day under a policy published on `published` (the day itself when published at midnight)."""
    if published is None:
        return None
    return published if midnight else published + timedelta(days=1)


def regime_backtest(
    without: Sequence[float],
    sent: Sequence[float],
    *,
    start: date,
    regime_start: date | None,
    horizon: int = WEEK,
    origins: int = BACKTEST_ORIGINS,
) -> Backtest | None:
    """MAPE of forecasts of the bytes sent, from origins inside the current regime.

    An origin needs at least one regime day before it (to measure the share kept) and one after it; the horizon
    shrinks to the days the regime has. Days that sent nothing are left out. None when the regime is too young.
    """
    n = min(len(without), len(sent))
    first = 0 if regime_start is None else max(0, (regime_start - start).days)
    horizon = min(horizon, n - first - 1)
    if horizon < 1:
        return None
    cuts = [c for c in range(n - horizon, first, -1) if c >= MIN_FIT_DAYS][:origins]
    errors: list[float] = []
    for cut in cuts:
        produced = float(np.sum(without[first:cut]))
        if produced <= 0:
            continue
        share = float(np.sum(sent[first:cut])) / produced
        model = fit(without[:cut], start=start)
        for h in range(horizon):
            actual = float(sent[cut + h])
            if actual > 0:
                guess = model.predict(start + timedelta(days=cut + h)) * share
                errors.append(abs(guess - actual) / actual)
    if not errors:
        return None
    return Backtest(mape=float(np.mean(errors)), horizon_days=horizon, origins=len(cuts), points=len(errors))


def project_month_with_policy(
    without: Sequence[float],
    sent: Sequence[float],
    *,
    start: date,
    today: date,
    regime_start: date | None,
    keep_share: float,
) -> RegimeProjection:
    """Month-end totals for the month of `today`: complete days as they were, then forecasts.

    `without` and `sent` are complete days from `start` up to the day before `today`. The days from `today` on are
    the forecast of `without` (a day-of-week trend) and that forecast times `keep_share` for what will be sent.
    """
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    n = min(len(without), len(sent))
    share = min(max(keep_share, 0.0), 1.0)
    series: list[RegimePoint] = []
    sent_to_date = without_to_date = 0.0
    for i in range(n):
        day = start + timedelta(days=i)
        if day >= first:
            series.append(RegimePoint(day, float(sent[i]), float(without[i]), False))
            sent_to_date += float(sent[i])
            without_to_date += float(without[i])
    end_of_data = start + timedelta(days=n)
    horizon = (last - end_of_data).days + 1
    projected, counterfactual = sent_to_date, without_to_date
    if n >= MIN_FIT_DAYS and horizon > 0:
        model = fit(without[:n], start=start)
        for h in range(horizon):
            day = end_of_data + timedelta(days=h)
            if day < first:
                continue
            guess = model.predict(day)
            series.append(RegimePoint(day, guess * share, guess, True))
            projected += guess * share
            counterfactual += guess
    return RegimeProjection(
        month_start=first,
        month_end=last,
        series=tuple(series),
        sent_to_date=sent_to_date,
        without_to_date=without_to_date,
        projected_total=projected,
        counterfactual_total=counterfactual,
        regime_start=regime_start,
        keep_share=share,
        backtest=regime_backtest(without[:n], sent[:n], start=start, regime_start=regime_start),
    )
