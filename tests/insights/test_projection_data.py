"""Month-end projection over stored hourly windows: the demo's generated logs and a known trend + weekly season."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np
import pytest
from model_bakery import baker

from insights.selectors import cost_projection, daily_bytes_after
from lipservice.models import Team
from patterns.demo import DEMO_SERVICES, generate
from patterns.models import Pattern, PatternWindow, Service

DEMO_END = datetime(2026, 11, 23, tzinfo=UTC)  # midnight, so every demo day is complete
DEMO_DAYS = 28


@cache
def demo_hourly() -> dict[tuple[str, str, datetime], tuple[int, int, int]]:
    """(service, pattern, hour) → (lines, bytes, errors) of the demo generator at 5% traffic; patterns are crude
    (one per severity) because the projection only needs the totals."""
    acc: dict[tuple[str, str, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
    for name in DEMO_SERVICES:
        for line in generate(service=name, end=DEMO_END, days=DEMO_DAYS, scale=0.05):
            bucket = line.timestamp.replace(minute=0, second=0, microsecond=0)
            row = acc[(name, line.severity, bucket)]
            row[0] += 1
            row[1] += len(line.body.encode()) + 1
            row[2] += line.severity in {"ERROR", "FATAL"}
    return {key: (v[0], v[1], v[2]) for key, v in acc.items()}


def _store(team: Team, rows: dict[tuple[str, str, datetime], tuple[int, int, int]]) -> None:
    services: dict[str, Service] = {}
    patterns: dict[tuple[str, str], Pattern] = {}
    windows = []
    for (name, key, bucket), (lines, size, errors) in rows.items():
        if name not in services:
            services[name] = baker.make(Service, team=team, name=name, source_kind=Service.SourceKind.FILE)
        if (name, key) not in patterns:
            patterns[(name, key)] = baker.make(Pattern, service=services[name], pattern_id=key, template=key)
        windows.append(
            PatternWindow(
                service=services[name],
                pattern=patterns[(name, key)],
                bucket_start=bucket,
                count=lines,
                bytes=size,
                errors=errors,
            )
        )
    PatternWindow.objects.bulk_create(windows, batch_size=2000)


@pytest.mark.django_db
def test_demo_month_end_projection_backtests_within_ten_percent(team: Team) -> None:
    _store(team, demo_hourly())
    result = cost_projection(team=team, today=DEMO_END.date())
    assert result.projection is not None and result.projection.backtest is not None
    mape = result.projection.backtest.mape
    print(
        f"\ndemo data ({DEMO_DAYS} days, 3 services, scale 0.05): 7-day MAPE {mape:.2%}, month-end "
        f"{result.month_end_bytes / 1e6:.1f} MB = {result.currency} {result.month_end_cost}"
    )
    assert mape <= 0.10
    start, values = daily_bytes_after(services=list(Service.objects.filter(team=team)), today=DEMO_END.date())
    assert start == (DEMO_END - timedelta(days=DEMO_DAYS)).date() and len(values) == DEMO_DAYS
    assert sum(values) == sum(size for _, size, _ in demo_hourly().values())


@pytest.mark.django_db
def test_known_trend_and_season_projection_from_windows(team: Team) -> None:
    """Hourly windows of a series with +2%/week trend, weekend dip and 4% noise; partial first and last days."""
    season = (1.0, 1.1, 1.05, 1.0, 0.95, 0.6, 0.55)
    rng = np.random.default_rng(11)
    first = datetime(2026, 9, 1, 13, tzinfo=UTC)  # a partial first day: must be left out
    today = date(2026, 10, 20)
    rows = {}
    t = first
    while t < datetime(2026, 10, 20, 9, tzinfo=UTC):  # today's partial hours: left out as well
        day = (t.date() - date(2026, 9, 1)).days
        hourly = 1e6 * (1 + 0.003 * day) * season[t.weekday()] * float(rng.normal(1, 0.04))
        rows[("svc", "p", t)] = (1000, round(hourly), 0)
        t += timedelta(hours=1)
    _store(team, rows)
    result = cost_projection(team=team, today=today)
    assert result.projection is not None and result.projection.backtest is not None
    mape = result.projection.backtest.mape
    print(f"\ngenerated windows (trend + weekly season, 4% noise): 7-day MAPE {mape:.2%}")
    assert mape <= 0.10
    series = result.projection.series
    assert series[0].day == date(2026, 10, 1) and series[-1].day == date(2026, 10, 31)
    assert [p.forecast for p in series].index(True) == 19  # 1..19 October actual, 20..31 forecast
    expected_rest = sum(
        24e6 * (1 + 0.003 * (d - date(2026, 9, 1)).days) * season[d.weekday()]
        for d in (date(2026, 10, 20) + timedelta(days=i) for i in range(12))
    )
    assert sum(p.value for p in series if p.forecast) == pytest.approx(expected_rest, rel=0.05)
