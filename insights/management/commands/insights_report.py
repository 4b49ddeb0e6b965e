"""Print a team's monthly cost before/after per service, the month-end projection and its backtest error."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from insights.selectors import cost_projection, period_for, team_cost
from lipservice.models import Team


class Command(BaseCommand):
    help = "Cost before/after per service (monthly run rate), month-end projection and backtest MAPE for a team."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("team", help="Team name (slug).")
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        team = Team.objects.filter(name=options["team"]).first()
        if team is None:
            raise CommandError(f"No team named {options['team']!r}.")
        period = period_for(team=team, days=options["days"])
        cost = team_cost(team=team, period=period)
        self.stdout.write(f"{team.name}: {period.observed_seconds / 86400:.1f} days observed, per 30-day month")
        for row in cost.services:
            self.stdout.write(
                f"  {row.service:<30} before {row.before:>14.4f}  after {row.after:>14.4f}  "
                f"savings {row.savings:>14.4f} {cost.currency}"
            )
        self.stdout.write(
            f"  {'TOTAL':<30} before {cost.before:>14.4f}  after {cost.after:>14.4f}  "
            f"savings {cost.savings:>14.4f} {cost.currency}"
        )
        projection = cost_projection(team=team)
        if projection.projection is None:
            self.stdout.write("projection: not enough complete days yet")
            return
        backtest = projection.projection.backtest
        mape = f"{backtest.mape:.2%} over {backtest.points} points" if backtest else "n/a (needs 21 complete days)"
        self.stdout.write(
            f"month-end: {projection.month_end_bytes / 1e9:.3f} GB = {projection.month_end_cost:.4f} "
            f"{projection.currency}; 7-day backtest MAPE {mape}"
        )
