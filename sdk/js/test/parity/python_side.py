"""The Python half of the JavaScript SDK's parity tests: a corpus, its keys, a mined policy and seeded verdicts.

Usage: python_side.py OUT_DIR. Writes corpus.jsonl (the development Loghub lines, raw and content, the demo logs and
a burst that trips the anomaly boost), python.jsonl (key, signature and verdict per line) and policy.json.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sdk" / "python"))

from lipservice_sdk.decision import Decider  # noqa: E402
from lipservice_sdk.policy import policy_from_dict  # noqa: E402
from lipservice_sdk.signature import signature_of_key, template_key  # noqa: E402

from patterns.demo import DEMO_SERVICES, generate  # noqa: E402
from patterns.engine.miner import Miner  # noqa: E402
from policies.engine.checker import is_catch_all  # noqa: E402

LOGHUB = Path("/work/shared/datasets/loghub_2k")
SEED = 20261206
START = 1_780_000_000.0


def _loghub_dir() -> Path:
    if os.environ.get("LIPSERVICE_LOGHUB_DIR"):
        return Path(os.environ["LIPSERVICE_LOGHUB_DIR"])
    for candidate in (ROOT.parent / "shared" / "datasets" / "loghub_2k", ROOT / "shared" / "datasets" / "loghub_2k"):
        if candidate.is_dir():
            return candidate
    return LOGHUB


def _unit(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def corpus() -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    loghub = _loghub_dir()
    for system in sorted(p for p in loghub.iterdir() if p.is_dir()):
        raw = (system / f"{system.name}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
        with (system / f"{system.name}_2k.log_structured_corrected.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row, raw_line in zip(rows, raw, strict=False):
            for message in (row["Content"], raw_line):
                i = len(lines)
                lines.append(
                    {
                        "message": message,
                        "severity": row.get("Level") or "INFO",
                        "timestamp": START + i * 0.25,
                        "trace_id": f"{_unit(system.name + str(i // 5)):032x}" if i % 3 else None,
                        "attributes": {"http.status_code": 500 + i % 7} if i % 97 == 0 else None,
                    }
                )
    end = datetime(2026, 11, 1, tzinfo=UTC)
    for service in sorted(DEMO_SERVICES):
        for line in generate(service=service, end=end, days=1, scale=0.05, seed=5):
            lines.append(
                {
                    "message": line.body,
                    "severity": line.severity,
                    "timestamp": line.timestamp.timestamp(),
                    "trace_id": line.trace_id or None,
                    "attributes": line.attributes or None,
                }
            )
    # Warm-up minutes at a low rate, then a burst of one pattern: the anomaly boost must start and decay alike.
    burst_start = START + 100_000
    for minute in range(6):
        count = 70 if minute < 4 else 900
        for j in range(count):
            lines.append(
                {
                    "message": f"cache refresh {j} for shard {minute}",
                    "severity": "DEBUG",
                    "timestamp": burst_start + minute * 60 + j * 60 / count,
                    "trace_id": None,
                    "attributes": None,
                }
            )
    return lines


def policy(keys: list[str]) -> dict[str, Any]:
    miner = Miner()
    miner.ingest(keys)
    patterns = []
    # A machine-written policy carries no catch-all template (the checker refuses one), so neither does this one.
    mined = [pattern for pattern in miner.patterns() if not is_catch_all(pattern.template)]
    for n, pattern in enumerate(mined):
        rate = [0.0, 0.05, 0.1, 0.25, 0.5, 1.0][_unit(pattern.id) % 6]
        # Every third pattern is left to template matching alone.
        signatures = [] if n % 3 == 0 else sorted(pattern.signatures)
        patterns.append({"id": pattern.id, "template": pattern.template, "signatures": signatures, "rate": rate})
    return {
        "schema": "lipservice.policy/v1",
        "service": "parity",
        "version": 3,
        "severity_rates": {"TRACE": 0.02, "DEBUG": 0.1, "INFO": 0.3, "ERROR": 1.0, "FATAL": 1.0},
        # Half of the patterns are left out, so severity rates (and for WARN, with none, the default) decide.
        "patterns": patterns[::2],
        "default_rate": 0.2,
        "keep": {"first_per_pattern": True, "first_per_signature": True, "window_seconds": 120},
        "anomaly_boost": {"enabled": True, "factor": 5.0, "threshold": 3.0, "duration_seconds": 120},
        "trace_consistent": True,
    }


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    lines = corpus()
    keys = [template_key(line["message"]) for line in lines]
    document = policy(keys)
    (out / "policy.json").write_text(json.dumps(document), encoding="utf-8")
    decider = Decider(policy_from_dict(document), rng=random.Random(SEED))
    with (
        (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus_file,
        (out / "python.jsonl").open("w", encoding="utf-8") as python_file,
    ):
        for line, key in zip(lines, keys, strict=True):
            verdict = decider.decide(
                message=line["message"],
                severity=line["severity"],
                timestamp=line["timestamp"],
                trace_id=line["trace_id"],
                attributes=line["attributes"],
            )
            corpus_file.write(json.dumps(line) + "\n")
            python_file.write(
                json.dumps(
                    {
                        "key": key,
                        "signature": signature_of_key(key),
                        "keep": verdict.keep,
                        "rate": verdict.rate,
                        "pattern": verdict.pattern_id,
                        "reason": verdict.reason,
                        "boosted": verdict.boosted,
                    }
                )
                + "\n"
            )
    print(json.dumps({"lines": len(lines), "seed": SEED, "patterns": len(document["patterns"])}))


if __name__ == "__main__":
    main()
