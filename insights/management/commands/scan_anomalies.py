"""Run the anomaly scan (and alerts) now for every service of a team, or one service."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from insights.services.anomalies import anomalies_scan
from patterns.selectors import service_list_for_team_name


class Command(BaseCommand):
    help = "Scan hourly pattern counts for anomalies, group them into incidents and alert, as the beat job does."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("team", help="Team name (slug).")
        parser.add_argument("--service", default="", help="Only this service.")
        parser.add_argument("--lookback-hours", type=int, default=3, help="Hours tested; earlier ones are baseline.")

    def handle(self, *args: Any, **options: Any) -> None:
        services = service_list_for_team_name(team_name=options["team"])
        if options["service"]:
            services = services.filter(name=options["service"])
        if not services.exists():
            raise CommandError("No matching service.")
        for service in services:
            incidents = anomalies_scan(service=service, lookback_hours=options["lookback_hours"])
            for incident in incidents:
                self.stdout.write(f"{service.name}: {incident.severity} {incident.title}")
            if not incidents:
                self.stdout.write(f"{service.name}: nothing unusual")
