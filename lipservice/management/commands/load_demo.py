"""Create team `demo`: three services, four weeks of generated logs, analysed, with policies made by the loop."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from lipservice.demo import demo_sdk_replay
from lipservice.services import team_get_or_create
from patterns.demo import DEMO_SERVICES, demo_end_default, write_demo_file
from patterns.services import service_get_or_create
from policies.loop import pipeline_run


class Command(BaseCommand):
    help = "Load the demo team, its services and their generated logs (deterministic for a given end time and seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=28, help="Days of history (21+ gives a projection backtest).")
        parser.add_argument("--scale", type=float, default=0.1, help="Traffic multiplier (1.0 is ~500k lines a week).")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--end", type=datetime.fromisoformat, default=None, help="ISO end time; default this hour.")
        parser.add_argument("--directory", type=Path, default=None, help="Where the log files go.")
        parser.add_argument("--no-pipeline", action="store_true", help="Only write logs; skip analysis and policies.")

    def handle(self, *args: Any, **options: Any) -> None:
        end = options["end"] or demo_end_default()
        directory: Path = options["directory"] or Path(settings.DATA_DIR) / "demo"
        team, created = team_get_or_create(name="demo", display_name="Demo shop")
        self.stdout.write(f"team demo {'created' if created else 'exists'}")
        params = {"end": end.isoformat(), "days": options["days"], "scale": options["scale"], "seed": options["seed"]}
        for name, description in DEMO_SERVICES.items():
            path = directory / f"{name}.jsonl.gz"
            manifest = path.with_suffix(".manifest.json")
            if path.exists() and manifest.exists() and json.loads(manifest.read_text()) == params:
                self.stdout.write(f"  {name}: logs up to date ({path})")
            else:
                count = write_demo_file(
                    path=path, service=name, end=end, days=options["days"], scale=options["scale"], seed=options["seed"]
                )
                manifest.write_text(json.dumps(params))
                self.stdout.write(f"  {name}: wrote {count:,} lines to {path}")
            service = service_get_or_create(
                team=team,
                name=name,
                description=description,
                source_kind="file",
                source_config={"path": str(path), "format": "jsonl"},
                auto_publish=True,
            )
            if not options["no_pipeline"]:
                if service.analysis_watermark is None:
                    service.analysis_watermark = end - timedelta(days=options["days"])
                    service.save(update_fields=["analysis_watermark"])
                # The whole history in one run: a file source is read in full for every window.
                self.stdout.write(f"  {name}: {pipeline_run(service_id=service.pk, max_hours=options['days'] * 24)}")
                service.refresh_from_db()
                service.refresh_from_db()
                replayed = demo_sdk_replay(service=service)
                if replayed:
                    self.stdout.write(f"  {name}: SDK decision replayed over the last 72 h ({replayed:,} lines)")
        self.stdout.write(self.style.SUCCESS(f"demo ready: {len(DEMO_SERVICES)} services, logs in {directory}"))
