"""Pattern-aware sampling versus uniform random sampling at the same reduction: errors and kinds of line lost.

Usage:
    python bench/sampling.py [INPUT ...] [--demo DAYS] [--target 0.8] [--seeds 20] [--window-seconds 0]
                             [--log-format FMT] [--write-results]

An INPUT is a Loghub system folder (format.json + *_structured_corrected.csv: true templates from EventTemplate)
or a log file, plain or JSON lines, maybe gzipped (kinds are its distinct template keys, since it has no labels).
Without INPUT: the eight dev systems. --demo DAYS adds the three demo services' logs (patterns.demo, scale 0.1).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from lipservice_sdk.decision import Decision  # noqa: E402
from lipservice_sdk.severity import ALWAYS_KEPT  # noqa: E402
from lipservice_sdk.signature import template_key  # noqa: E402

from bench.results import write_section  # noqa: E402
from policies.engine.mining import mine_records  # noqa: E402
from policies.engine.pricing import flat_pricing  # noqa: E402
from policies.engine.records import records_from_file  # noqa: E402
from policies.engine.rules import ReductionTarget, RuleConfig, generate_rule_policy  # noqa: E402
from policies.engine.simulator import ReplayLine, simulate  # noqa: E402

LOGHUB = ROOT.parent / "shared" / "datasets" / "loghub_2k"
DEV_SYSTEMS = ("BGL", "HDFS", "Hadoop", "Spark", "Linux", "HealthApp", "OpenSSH", "Proxifier")
SECTION = "## Sampling"


@dataclass(frozen=True)
class Row:
    name: str
    lines: int
    errors: int
    kinds: int
    kind_source: str
    reduction: float
    ours_errors_lost: float
    ours_kinds_lost: float
    uniform_errors_lost: float
    uniform_kinds_lost: float
    uniform_kinds_lost_max: int
    uniform_runs_losing_nothing: float


def load(path: Path, log_format: str | None) -> tuple[str, list[ReplayLine], list[str], str]:
    """Records plus a kind label per record: the true Loghub template, or the template key."""
    if path.is_dir():
        system = path.name
        fmt = json.loads((path / "format.json").read_text())["log_format"]
        records = records_from_file(path / f"{system}_2k.log", log_format=fmt)
        with (path / f"{system}_2k.log_structured_corrected.csv").open(newline="") as handle:
            truth = {int(row["LineId"]): row["EventTemplate"] for row in csv.DictReader(handle)}
        return system, records, [truth[r.line_id] for r in records], "Loghub EventTemplate"
    records = records_from_file(path, log_format=log_format)
    return path.name, records, [template_key(r.message) for r in records], "template key"


def lost(kept: Sequence[bool], records: Sequence[ReplayLine], kinds: Sequence[str]) -> tuple[int, int]:
    errors = sum(1 for k, r in zip(kept, records, strict=True) if not k and r.severity in ALWAYS_KEPT)
    seen: dict[str, bool] = defaultdict(bool)
    for k, kind in zip(kept, kinds, strict=True):
        seen[kind] |= k
    return errors, sum(1 for v in seen.values() if not v)


def measure(path: Path, *, target: float, seeds: int, window_seconds: int, log_format: str | None) -> Row:
    name, records, kinds, source = load(path, log_format)
    ours: list[tuple[int, int]] = []
    reductions: list[float] = []
    stats = mine_records(records)
    policy = generate_rule_policy(
        service=name, stats=stats, target=ReductionTarget(target), config=RuleConfig(window_seconds=window_seconds)
    )
    for seed in range(seeds):
        kept: list[bool] = []
        report = simulate(
            policy=policy, records=records, pricing=flat_pricing(0.5), seed=seed, on_decision=_collect(kept)
        )
        ours.append(lost(kept, records, kinds))
        reductions.append(report.reduction_lines)
    reduction = statistics.mean(reductions)
    uniform: list[tuple[int, int]] = []
    for seed in range(seeds):
        draw = random.Random(seed)
        uniform.append(lost([draw.random() >= reduction for _ in records], records, kinds))
    return Row(
        name=name,
        lines=len(records),
        errors=sum(1 for r in records if r.severity in ALWAYS_KEPT),
        kinds=len(set(kinds)),
        kind_source=source,
        reduction=reduction,
        ours_errors_lost=statistics.mean(e for e, _ in ours),
        ours_kinds_lost=statistics.mean(k for _, k in ours),
        uniform_errors_lost=statistics.mean(e for e, _ in uniform),
        uniform_kinds_lost=statistics.mean(k for _, k in uniform),
        uniform_kinds_lost_max=max(k for _, k in uniform),
        uniform_runs_losing_nothing=sum(1 for e, k in uniform if e == 0 and k == 0) / len(uniform),
    )


def _collect(into: list[bool]) -> Callable[[ReplayLine, Decision], None]:
    return lambda _record, decision: into.append(decision.keep)


def demo_files(folder: Path, *, days: int) -> list[Path]:
    """The demo services' logs for `days` ending 2026-11-23 (deterministic), as JSON-lines files."""
    from patterns.demo import DEMO_SERVICES, write_demo_file

    end = datetime(2026, 11, 23, tzinfo=UTC)
    paths = []
    for service in DEMO_SERVICES:
        path = folder / f"{service}.jsonl.gz"
        write_demo_file(path=path, service=service, end=end, days=days, scale=0.1, seed=7)
        paths.append(path)
    return paths


def table(rows: Sequence[Row]) -> str:
    head = (
        "| input | lines | errors | kinds (source) | line reduction | LipService: errors lost | LipService: kinds lost "
        "| uniform: errors lost | uniform: kinds lost (mean / max) | uniform runs losing nothing |\n"
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    body = [
        f"| {r.name} | {r.lines:,} | {r.errors:,} | {r.kinds} ({r.kind_source}) | {r.reduction:.1%} "
        f"| {r.ours_errors_lost:g} | {r.ours_kinds_lost:g} | {r.uniform_errors_lost:.1f} "
        f"| {r.uniform_kinds_lost:.1f} / {r.uniform_kinds_lost_max} | {r.uniform_runs_losing_nothing:.0%} |"
        for r in rows
    ]
    return "\n".join([head, *body])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path, help="Loghub system folders or log files")
    parser.add_argument("--target", type=float, default=0.8, help="target byte reduction for LipService")
    parser.add_argument("--seeds", type=int, default=20, help="sampling draws per input, for both methods")
    parser.add_argument("--window-seconds", type=int, default=0, help="first-line window; 0 = the whole input")
    parser.add_argument("--demo", type=int, default=0, metavar="DAYS", help="add DAYS of the demo services' logs")
    parser.add_argument("--log-format", default=None, help="Loghub-notation format for plain log files")
    parser.add_argument("--write-results", action="store_true", help="update the Sampling section of RESULTS.md")
    args = parser.parse_args(argv)
    inputs = list(args.inputs) or [LOGHUB / name for name in DEV_SYSTEMS]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        if args.demo:
            inputs += demo_files(Path(scratch), days=args.demo)
        rows = [
            measure(
                p, target=args.target, seeds=args.seeds, window_seconds=args.window_seconds, log_format=args.log_format
            )
            for p in inputs
        ]
    elapsed = time.perf_counter() - started
    shown = [str(p.relative_to(ROOT.parent)) if p.is_relative_to(ROOT.parent) else str(p) for p in args.inputs]
    options = [f"--target {args.target}", f"--seeds {args.seeds}", f"--window-seconds {args.window_seconds}"]
    command = " ".join(
        ["python bench/sampling.py", *shown, *(["--demo", str(args.demo)] if args.demo else []), *options]
    )
    window = (
        "one first-line window for the whole input"
        if not args.window_seconds
        else (f"first-line windows of {args.window_seconds} s")
    )
    report = (
        f"{SECTION}\n\n"
        f"Command: `{command}` (from the repository root; {elapsed:.0f} s).\n\n"
        f"LipService mines each input, writes the rule-based policy for a byte reduction of {args.target:.0%} with "
        f"{window} and replays it ({args.seeds} seeds). Uniform sampling keeps each "
        f"line with the same probability as LipService's mean kept share of lines ({args.seeds} seeds). "
        '"Kinds" are the true Loghub templates where labels exist, otherwise distinct template keys. '
        "Errors are ERROR/FATAL lines (any spelling of the level)."
        + (
            f" Demo rows: {args.demo} days of `patterns.demo` logs per service (scale 0.1, seed 7, ending 2026-11-23)."
            if args.demo
            else ""
        )
        + "\n\n"
        + table(rows)
        + "\n"
    )
    print(report)
    if args.write_results:
        write_section(SECTION, report)


if __name__ == "__main__":
    main()
