"""Mine a log file into patterns and print a summary; needs no database (manage.py runs it before Django starts)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patterns.mine_file import HELP, MiningInputError, add_arguments, mine_file


class Command(BaseCommand):
    help = HELP
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mine_file(options, self.stdout, lambda lines: lines)
        except MiningInputError as exc:
            raise CommandError(str(exc)) from exc
