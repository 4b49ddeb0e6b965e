"""Create team `demo`: three services, four weeks of generated logs, analysed, with policies made by the loop."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from insights.demo import DEMO_PRICE_TABLE, demo_scale_incidents
from insights.services.anomalies import anomalies_scan
from insights.services.pricing import team_pricing_set
from lipservice.services import team_get_or_create
from patterns.demo import DEMO_SERVICES, demo_end_default, write_demo_file
from patterns.services import pattern_windows_scale, service_get_or_create
from policies.demo import demo_sdk_replay
from policies.loop import pipeline_run

REPLAY_HOURS = 7 * 24
# The demo's incident is placed 34 h before its end; the scan tests the last two days, the week before is baseline.
SCAN_LOOKBACK_HOURS = 48


class Command(BaseCommand):
    help = "Load the demo team, its services and their generated logs (deterministic for a given end time and seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=28, help="Days of history (21+ gives a projection backtest).")
        parser.add_argument(
            "--scale", type=float, default=0.05, help="Raw lines generated (1.0 is ~500k lines a week per service)."
        )
        parser.add_argument(
            "--volume-factor",
            type=int,
            default=2500,
            help="Production lines each generated line stands for: hourly counts are multiplied by it (1 = none).",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--end", type=datetime.fromisoformat, default=None, help="ISO end time; default this hour.")
        parser.add_argument("--directory", type=Path, default=None, help="Where the log files go.")
        parser.add_argument("--no-pipeline", action="store_true", help="Only write logs; skip analysis and policies.")

    def handle(self, *args: Any, **options: Any) -> None:
        end = options["end"] or demo_end_default()
        directory: Path = options["directory"] or Path(settings.DATA_DIR) / "demo"
        progress = sys.stderr.isatty()
        team, created = team_get_or_create(name="demo", display_name="Demo shop")
        team.config = {**(team.config or {}), "demo": True}
        team.save(update_fields=["config"])
        team_pricing_set(team=team, pricing=DEMO_PRICE_TABLE)
        self.stdout.write(f"team demo {'created' if created else 'exists'}")
        params = {"end": end.isoformat(), "days": options["days"], "scale": options["scale"], "seed": options["seed"]}
        steps = tqdm(DEMO_SERVICES.items(), desc="demo", unit=" service", disable=not progress, file=sys.stderr)
        for name, description in steps:
            steps.set_postfix_str(name)
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
            if options["no_pipeline"]:
                continue
            if service.analysis_watermark is None:
                service.analysis_watermark = end - timedelta(days=options["days"])
                service.save(update_fields=["analysis_watermark"])
            analysed_from = service.analysis_watermark
            # The whole history in one run: a file source is read in full for every window.
            self.stdout.write(f"  {name}: {pipeline_run(service_id=service.pk, max_hours=options['days'] * 24)}")
            service.refresh_from_db()
            analysed_to = service.analysis_watermark
            replayed = demo_sdk_replay(service=service, hours=REPLAY_HOURS, progress=progress)
            if replayed:
                self.stdout.write(
                    f"  {name}: SDK decision replayed over the last {REPLAY_HOURS} h ({replayed:,} lines)"
                )
            assert analysed_to is not None
            analysed = analysed_from is not None and analysed_to > analysed_from
            if analysed:
                # The detector reads the sample's own counts (scaled-up sample noise would pass for anomalies), once,
                # before they are scaled; its findings are then restated in production units.
                incidents = anomalies_scan(service=service, now=end, lookback_hours=SCAN_LOOKBACK_HOURS)
                demo_scale_incidents(incidents=incidents, factor=options["volume_factor"])
                self.stdout.write(
                    f"  {name}: anomaly scan of the last {SCAN_LOOKBACK_HOURS} h: {len(incidents)} incident(s)"
                )
            pattern_windows_scale(
                service=service,
                factor=options["volume_factor"],
                analysed=(analysed_from, analysed_to) if analysed else None,
                replayed=(analysed_to - timedelta(hours=REPLAY_HOURS), analysed_to) if replayed else None,
            )
        self.stdout.write(self.style.SUCCESS(f"demo ready: {len(DEMO_SERVICES)} services, logs in {directory}"))
