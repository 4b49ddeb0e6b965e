"""Analyse a log file into a service's stored patterns and hourly counts."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from lipservice.selectors import team_get
from patterns.analysis import analysis_execute_records, analysis_run_create
from patterns.models import AnalysisRun
from patterns.services import service_get_or_create
from patterns.sources import FileLogSource, FileSourceConfig, SourceError


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Mine INPUT into the patterns of --service (created if missing) and store per-hour counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", type=Path)
        parser.add_argument("--service", required=True)
        parser.add_argument("--team", default="demo")
        parser.add_argument("--log-format", help="Loghub notation for plain-text lines.")
        parser.add_argument("--force", action="store_true", help="Analyse even if this exact file was analysed.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["input"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        team = team_get(name=options["team"])
        if team is None:
            raise CommandError(f"No team named {options['team']!r}.")
        service = service_get_or_create(team=team, name=options["service"])
        ref = f"file:{path.resolve()} sha256:{file_digest(path)}"
        already = AnalysisRun.objects.filter(
            service=service, source_ref=ref, status=AnalysisRun.Status.SUCCEEDED
        ).first()
        if already is not None and not options["force"]:
            raise CommandError(f"{path} was already analysed for {service} (run {already.pk}); --force to repeat")
        try:
            source = FileLogSource(
                FileSourceConfig(paths=(str(path),), loghub_format=options["log_format"], default_service=service.name)
            )
        except SourceError as exc:
            raise CommandError(str(exc)) from exc
        run = analysis_run_create(service=service, start=None, end=None, method="records", source_kind="file")
        run.source_ref = ref
        run.save(update_fields=["source_ref"])
        records = tqdm(
            source.read_all(), desc=f"analysing {path.name}", unit=" lines", unit_scale=True,
            disable=not sys.stderr.isatty(), file=sys.stderr,
        )  # fmt: skip
        run = analysis_execute_records(run_id=run.pk, records=records)
        if run.status != AnalysisRun.Status.SUCCEEDED:
            raise CommandError(f"analysis run {run.pk} failed: {run.error}")
        self.stdout.write(
            f"run {run.pk}: {run.lines_read:,} lines, {run.patterns_total} patterns ({run.patterns_new} new) "
            f"for {service} in {run.timings.get('total_seconds', 0):.2f}s"
        )
