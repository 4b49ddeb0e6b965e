"""`posthog_app install --team NAME [--dry-run]` pushes policies into PostHog; `template` exports the Hog template."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lipservice.selectors import team_get
from patterns.connections import posthog_client_for_team
from patterns.sources import SourceError
from policies.exporters.hog import hog_template_json
from posthog_app.install import posthog_install
from posthog_app.manifest import TEMPLATE_PATH


class Command(BaseCommand):
    help = (
        "Install LipService into a team's PostHog project (Hog transformation and drop rules), or export the template."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        install = sub.add_parser("install", help="Create or update the Hog function and drop rules (idempotent).")
        install.add_argument("--team", required=True, help="Team name (slug).")
        install.add_argument("--dry-run", action="store_true", help="Print what would change; change nothing.")
        template = sub.add_parser("template", help="Print the Hog transformation_log template as JSON.")
        template.add_argument("--write", action="store_true", help=f"Write it to {TEMPLATE_PATH} instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "template":
            text = hog_template_json()
            if options["write"]:
                TEMPLATE_PATH.write_text(text)
                self.stdout.write(f"wrote {TEMPLATE_PATH}")
            else:
                self.stdout.write(text, ending="")
            return
        team = team_get(name=options["team"])
        if team is None:
            raise CommandError(f"no team named {options['team']!r}")
        try:
            client = posthog_client_for_team(team)
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        dry_run = bool(options["dry_run"])
        with client:
            actions = posthog_install(team=team, client=client, dry_run=dry_run)
        prefix = "[dry run] " if dry_run else ""
        for action in actions:
            self.stdout.write(prefix + action.describe(dry_run=dry_run))
        failures = [a for a in actions if a.verb == "error"]
        if failures:
            raise CommandError(f"{len(failures)} PostHog call(s) failed; see above")
        if not any(a.kind != "service" for a in actions):
            self.stdout.write(prefix + "nothing to install: no service of this team has an active policy")
