"""Projection backtest across a policy change: a generated daily series whose sent bytes are cut by 70% on day 20.

Usage:
    python bench/projection_regime.py [--days 35] [--cut-day 20] [--cut 0.7] [--seeds 20] [--write-results]

Each seed draws a produced-volume series (weekly season, slow growth, 5% day noise, one incident day) and sends it
whole until the cut day, then (1 - cut) of it with 3% noise in the share kept. Reported, for origins after the
change only: the regime-aware backtest (insights.engine.regime: forecast the produced volume, apply the share kept
since the change) against the trend fitted to the sent bytes alone (insights.engine.projection).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.results import write_section  # noqa: E402
from insights.engine.projection import forecast  # noqa: E402
from insights.engine.regime import regime_backtest  # noqa: E402

START = date(2026, 10, 5)
HORIZON = 7


def series(seed: int, days: int, cut_day: int, cut: float) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    weekly = [1.0, 1.05, 1.1, 1.08, 1.0, 0.62, 0.55]
    level = rng.uniform(0.5e9, 3e9)
    incident = rng.randrange(3, days)
    produced, sent = [], []
    for i in range(days):
        day = START + timedelta(days=i)
        value = level * (1 + 0.004 * i) * weekly[day.weekday()] * rng.gauss(1, 0.05)
        if i == incident:
            value *= 1.8
        produced.append(max(value, 0.0))
        share = 1.0 if i < cut_day else (1 - cut) * rng.gauss(1, 0.03)
        sent.append(max(value * share, 0.0))
    return produced, sent


def naive_backtest(sent: list[float], cut_day: int, horizon: int) -> float | None:
    """The trend on sent bytes alone, from the same origins (after the change), as the old projection did."""
    errors = []
    for origin in range(cut_day + 1, len(sent) - horizon + 1):
        guesses = forecast(sent[:origin], start=START, horizon=horizon)
        errors += [abs(g - a) / a for g, a in zip(guesses, sent[origin : origin + horizon], strict=True) if a > 0]
    return statistics.fmean(errors) if errors else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--cut-day", type=int, default=20)
    parser.add_argument("--cut", type=float, default=0.7)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    regime, naive = [], []
    for seed in range(args.seeds):
        produced, sent = series(seed, args.days, args.cut_day, args.cut)
        result = regime_backtest(
            produced, sent, start=START, regime_start=START + timedelta(days=args.cut_day), horizon=HORIZON
        )
        assert result is not None
        regime.append(result.mape)
        old = naive_backtest(sent, args.cut_day, HORIZON)
        if old is not None:
            naive.append(old)
    lines = [
        "## Projection across a policy change",
        "",
        f"`python bench/projection_regime.py --days {args.days} --cut-day {args.cut_day} --cut {args.cut} "
        f"--seeds {args.seeds} --write-results`",
        "",
        f"Generated daily series ({args.days} days, weekly season, 5% day noise, one incident day at 1.8x), sent bytes "
        f"cut by {args.cut:.0%} from day {args.cut_day}; {HORIZON}-day forecasts from every origin after the change "
        "(fewer days left: shorter horizon), MAPE over the forecast days, per seed.",
        "",
        "| projection | median MAPE after the change | mean over seeds | worst seed |",
        "|---|---|---|---|",
        f"| regime-aware (produced volume x share kept since the change) | {statistics.median(regime):.1%} "
        f"| {statistics.fmean(regime):.1%} | {max(regime):.1%} |",
    ]
    if naive:
        lines.append(
            f"| trend on sent bytes alone (the previous projection) | {statistics.median(naive):.1%} "
            f"| {statistics.fmean(naive):.1%} | {max(naive):.1%} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write_results:
        write_section("## Projection across a policy change", text)


if __name__ == "__main__":
    main()
