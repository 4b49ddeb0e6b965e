"""Create an API key for a team; the key is printed once, on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lipservice.models import ApiKey
from lipservice.selectors import team_get
from lipservice.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a team and print it (it is stored hashed and cannot be shown again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", required=True, help="Team name (slug).")
        parser.add_argument("--name", required=True, help="A label for the key, such as the service using it.")
        parser.add_argument(
            "--scope",
            choices=[choice.value for choice in ApiKey.Scope],
            default=ApiKey.Scope.SDK.value,
            help="sdk (default): read policies and post stats; management: the rest of the team's API.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        team = team_get(name=options["team"])
        if team is None:
            raise CommandError(f"No team named {options['team']!r}. Create it in the admin or run load_demo.")
        key, raw = api_key_create(team=team, name=options["name"], scope=options["scope"])
        self.stderr.write(
            f"created {key.scope} key {key.name!r} for team {team.name} (prefix {key.prefix}); store it now:"
        )
        self.stdout.write(raw)
