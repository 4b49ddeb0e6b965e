"""`manage.py simulate_policy`: mine a log file, write the rule-based policy for a target, replay it, report."""

from __future__ import annotations

import csv
import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from policies.engine.plan_replay import PlanOutcome, plan_and_replay
from policies.engine.pricing import flat_pricing, parse_pricing
from policies.engine.records import records_from_file
from policies.engine.rules import ReductionTarget
from policies.selectors import default_price_table


class Command(BaseCommand):
    help = "Replay a log file through the rule-based policy for a target reduction and report what it keeps."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("input", help="a log file, one record per line")
        parser.add_argument("--log-format", default="", help="Loghub notation, e.g. '<Date> <Time> <Level> <Content>'")
        parser.add_argument("--service", default="", help="service name (default: the file name)")
        parser.add_argument("--target-reduction", type=float, default=0.8, help="share of bytes to drop, 0..1")
        parser.add_argument("--window-seconds", type=int, default=300, help="first-line window; 0 = one window")
        parser.add_argument("--price-per-gb", type=float, default=None, help="dollars per GB ingested")
        parser.add_argument("--seed", type=int, default=0, help="seed of the sampling draw")
        parser.add_argument("--decisions", default="", help="write LineId,Kept,Rate,PatternId for every line here")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["input"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        target = options["target_reduction"]
        if not 0.0 <= target <= 1.0:
            raise CommandError("--target-reduction must be between 0 and 1")
        if options["window_seconds"] < 0:
            raise CommandError("--window-seconds must be 0 or more")
        price = options["price_per_gb"]
        if price is not None and price < 0:
            raise CommandError("--price-per-gb must not be negative")
        pricing = parse_pricing(default_price_table()) if price is None else flat_pricing(price)
        try:
            records = records_from_file(path, log_format=options["log_format"] or None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not records:
            raise CommandError(f"{path} has no lines")
        with tqdm(
            total=len(records), desc="mining, then replaying", unit=" lines", unit_scale=True,
            disable=not sys.stderr.isatty(), file=sys.stderr,
        ) as bar:  # fmt: skip
            outcome = plan_and_replay(
                records=records,
                service=options["service"] or path.stem,
                target=ReductionTarget(target),
                window_seconds=options["window_seconds"],
                pricing=pricing,
                seed=options["seed"],
                on_decision=lambda _record, _decision: bar.update(),
                on_round=lambda number: _next_round(bar, number),
            )
        if options["decisions"]:
            self._write_decisions(Path(options["decisions"]), outcome, [r.line_id for r in records])
        if options["json"]:
            body = {"report": outcome.report.as_dict(), "policy": outcome.policy.to_dict()}
            self.stdout.write(json.dumps(body, indent=2))
        else:
            self.stdout.write(_text_report(outcome, target))

    def _write_decisions(self, path: Path, outcome: PlanOutcome, line_ids: list[int]) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["LineId", "Kept", "Rate", "PatternId"])
            for line_id, decision in zip(line_ids, outcome.decisions, strict=True):
                writer.writerow([line_id, int(decision.keep), f"{decision.rate:g}", decision.pattern_id])


def _next_round(bar: tqdm[Any], number: int) -> None:
    """A replay that missed the target is planned and replayed again: the bar counts each replay from zero."""
    if number > 1:
        bar.reset()
        bar.set_description(f"replaying again (round {number}: the last replay missed the target)")


def _text_report(outcome: PlanOutcome, target: float) -> str:
    report = outcome.report
    lines = [
        f"service {report.service}: target {target:.0%} byte reduction",
        f"lines   {report.lines_kept:,} of {report.lines_total:,} kept ({report.reduction_lines:.1%} reduction)",
        f"bytes   {report.bytes_kept:,} of {report.bytes_total:,} kept ({report.reduction_bytes:.1%} reduction)",
        f"errors  {report.errors_kept:,} of {report.errors_total:,} kept",
        f"patterns {report.patterns_covered:,} of {report.patterns_total:,} covered",
        f"keys    {report.keys_covered:,} of {report.keys_total:,} template keys kept at least one line",
        f"boost   {report.lines_kept_boosted:,} lines kept while an anomaly boost was active",
        f"cost    {report.dollars_before:.6f} -> {report.dollars_after:.6f} {report.pricing.currency} "
        f"(average {report.price_per_gb:g}/GB, tiers included)",
    ]
    lines.insert(1, report.verdict())
    if report.coverage_lost:
        lines.append(
            f"coverage lost: {len(report.coverage_lost):,} patterns have a template key with no line kept: "
            + ", ".join(report.coverage_lost[:10])
            + (" ..." if len(report.coverage_lost) > 10 else "")
        )
    monthly_before, monthly_after = report.monthly(report.dollars_before), report.monthly(report.dollars_after)
    if monthly_before is not None and monthly_after is not None:
        lines.append(f"monthly ${monthly_before:,.2f} -> ${monthly_after:,.2f}")
    lines.append("")
    lines.append(f"{'pattern':<18} {'rate':>7} {'lines':>8} {'kept':>7} {'bytes kept':>11}  template")
    for effect in report.per_pattern[:25]:
        rate = "-" if effect.rate is None else f"{effect.rate:g}"
        lines.append(
            f"{effect.pattern_id[:18]:<18} {rate:>7} {effect.lines:>8,} {effect.kept:>7,} "
            f"{effect.bytes_kept:>11,}  {effect.template[:70]}"
        )
    if len(report.per_pattern) > 25:
        lines.append(f"... {len(report.per_pattern) - 25} more patterns (use --json)")
    return "\n".join(lines)
