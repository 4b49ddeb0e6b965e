"""Target 0.8 with one window on the Loghub dev systems that carry levels and on the demo services: does the plan
meet the target on replay, keep every error and every kind, and how far is it from what those allow?

The bound is min(target, ceiling), the ceiling being the byte reduction left when every ERROR/FATAL line and one line
(the shortest) of every kind are kept: kinds are the true templates for Loghub, the template keys for the demo logs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from lipservice_sdk.severity import ALWAYS_KEPT, normalize_severity  # noqa: E402
from lipservice_sdk.signature import signature  # noqa: E402

from bench.results import write_section  # noqa: E402
from patterns.demo import _MINUTE, write_demo_file  # noqa: E402
from policies.engine.plan_replay import plan_and_replay  # noqa: E402
from policies.engine.pricing import flat_pricing  # noqa: E402
from policies.engine.records import records_from_file  # noqa: E402
from policies.engine.rules import ReductionTarget  # noqa: E402
from policies.engine.simulator import ReplayLine  # noqa: E402
from tests.patterns.engine.loghub import load_system  # noqa: E402

SECTION = "## Simulation: target 0.8, one window"
LEVELLED = ("BGL", "HDFS", "Hadoop", "Spark")
TARGET = 0.8


def evaluate(name: str, records: Sequence[ReplayLine], kinds: Sequence[str]) -> dict[str, Any]:
    outcome = plan_and_replay(
        records=records, service=name, target=ReductionTarget(TARGET), window_seconds=0, pricing=flat_pricing(0.5)
    )
    report = outcome.report
    total = sum(r.size for r in records)
    errors = [normalize_severity(r.severity) in ALWAYS_KEPT for r in records]
    shortest: dict[str, int] = {}
    lines_of: dict[str, list[int]] = defaultdict(list)
    for index, (record, kind) in enumerate(zip(records, kinds, strict=True)):
        lines_of[kind].append(index)
        if not any(errors[i] for i in lines_of[kind]):
            shortest[kind] = min(shortest.get(kind, record.size), record.size)
    covered = {k for k, ids in lines_of.items() if any(errors[i] for i in ids)}
    floor = sum(r.size for r, e in zip(records, errors, strict=True) if e)
    floor += sum(size for kind, size in shortest.items() if kind not in covered)
    ceiling = 1.0 - floor / total
    bound = min(TARGET, ceiling)
    kept = [d.keep for d in outcome.decisions]
    lost = sum(1 for ids in lines_of.values() if not any(kept[i] for i in ids))
    check = report.target_check() or {}
    return {
        "system": name,
        "lines": report.lines_total,
        "reduction": report.reduction_bytes,
        "bound": bound,
        "ceiling": ceiling,
        "within": report.reduction_bytes >= bound - 0.05,
        "errors": f"{report.errors_kept}/{report.errors_total}",
        "kinds_lost": f"{lost}/{len(lines_of)}",
        "boosted": report.lines_kept_boosted,
        "met": bool(check.get("met")),
        "causes": ", ".join(c["cause"] for c in check.get("causes", [])) or "-",
    }


def loghub(name: str) -> dict[str, Any]:
    system = load_system(name)
    records = records_from_file(system.log_path, log_format=system.log_format)
    return evaluate(name, records, system.truth)


def demo(service: str, folder: Path) -> dict[str, Any]:
    path = folder / f"{service}.jsonl.gz"
    write_demo_file(path=path, service=service, end=datetime(2026, 11, 30, tzinfo=UTC), days=2, scale=0.25, seed=7)
    records = records_from_file(path)
    return evaluate(f"demo:{service}", records, [signature(r.message) for r in records])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = [loghub(name) for name in LEVELLED]
    with tempfile.TemporaryDirectory() as folder:
        rows += [demo(service, Path(folder)) for service in sorted(_MINUTE)]
    command = " ".join(["python bench/simulate_target.py", *sys.argv[1:]])
    out = [
        SECTION,
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `{command}`. `plan_and_replay` (what `simulate_policy "
        "--target-reduction 0.8 --window-seconds 0` runs): mine, plan, replay with the anomaly boost on; the plan "
        "sets aside the bytes boosts keep on replay until the target holds. Bound = min(0.8, ceiling); ceiling = "
        "the byte reduction left after every error and the shortest line of every kind.",
        "",
        "| log | lines | byte reduction | bound (ceiling) | within 5 points | errors kept | kinds that lost every "
        "line | lines kept while boosted | target met | causes if missed |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['system']} | {r['lines']:,} | {r['reduction']:.3f} | {r['bound']:.3f} ({r['ceiling']:.3f}) | "
            f"{'yes' if r['within'] else 'NO'} | {r['errors']} | {r['kinds_lost']} | {r['boosted']:,} | "
            f"{'yes' if r['met'] else 'no'} | {r['causes']} |"
        )
    text = "\n".join(out) + "\n"
    print(text)
    print(json.dumps(rows), file=sys.stderr)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
