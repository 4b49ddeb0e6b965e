"""Loads the Loghub-2k dev systems for engine tests and benchmarks."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

# The shared folder sits beside the project's root (../shared), on developers' machines and in CI alike.
DATASETS = Path(
    os.environ.get("LIPSERVICE_LOGHUB_DIR", Path(__file__).resolve().parents[3].parent / "shared/datasets/loghub_2k")
)
SYSTEMS = ("HDFS", "Hadoop", "Spark", "BGL", "Linux", "HealthApp", "OpenSSH", "Proxifier")
# Published GA of Drain with per-system tuned settings (dataset README).
DRAIN_TUNED_GA = {
    "HDFS": 0.998,
    "Hadoop": 0.948,
    "Spark": 0.920,
    "BGL": 0.963,
    "Linux": 0.690,
    "HealthApp": 0.780,
    "OpenSSH": 0.789,
    "Proxifier": 0.526,
}


@dataclass(frozen=True)
class System:
    name: str
    log_path: Path
    log_format: str
    truth: list[str]


def load_system(name: str) -> System:
    folder = DATASETS / name
    with (folder / f"{name}_2k.log_structured_corrected.csv").open(newline="", encoding="utf-8") as handle:
        truth = [row["EventTemplate"] for row in csv.DictReader(handle)]
    log_format = json.loads((folder / "format.json").read_text(encoding="utf-8"))["log_format"]
    return System(name=name, log_path=folder / f"{name}_2k.log", log_format=log_format, truth=truth)
