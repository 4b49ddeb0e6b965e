"""Three differently built 1M-line streams from the Loghub-2k dev systems, for whole-process mining benchmarks.

- `ids`: the systems interleaved and repeated with every number, id, IP and hex value redrawn per repeat
  (bench/mining.py's stream);
- `words`: every true template's `<*>` filled afresh on each line, mostly with words (user, host and file names
  from a Zipf-distributed vocabulary of 5,000), also numbers, hex ids and paths: values the masking cannot see;
- `json`: JSON-lines records (timestamp, level, service, trace id, attributes) whose message is a dev line with its
  numbers redrawn, one in twenty of them long (a key=value dump or a stack trace of 10-40 frames).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import random
import string
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "sdk" / "python")]

from bench.mining import _revalue, build_stream  # noqa: E402
from tests.patterns.engine.loghub import DATASETS, SYSTEMS  # noqa: E402

KINDS = ("ids", "words", "json")
LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR")


def _templates() -> list[list[str]]:
    rows: list[list[str]] = []
    for name in SYSTEMS:
        path = DATASETS / name / f"{name}_2k.log_structured_corrected.csv"
        with path.open(newline="", encoding="utf-8") as handle:
            rows.append([row["EventTemplate"] for row in csv.DictReader(handle)])
    return rows


class _Values:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vocabulary = [
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10))) for _ in range(5000)
        ]
        weights = [1.0 / (rank + 1) for rank in range(len(self.vocabulary))]
        total = sum(weights)
        running = 0.0
        self.cumulative = []
        for weight in weights:
            running += weight / total
            self.cumulative.append(running)

    def word(self) -> str:
        index = bisect.bisect_left(self.cumulative, self.rng.random())
        return self.vocabulary[min(index, len(self.vocabulary) - 1)]

    def value(self) -> str:
        roll = self.rng.random()
        if roll < 0.55:
            return self.word()
        if roll < 0.75:
            return str(self.rng.randrange(100_000))
        if roll < 0.85:
            return f"{self.rng.getrandbits(48):012x}"
        if roll < 0.95:
            return "/" + "/".join(self.word() for _ in range(self.rng.randint(1, 4)))
        return f"{self.word()}.{self.word()}.com"


def words_stream(lines: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    values = _Values(rng)
    systems = _templates()
    width = max(len(s) for s in systems)
    produced = 0
    while True:
        for i in range(width):
            for templates in systems:
                if i < len(templates):
                    parts = templates[i].split("<*>")
                    out = [parts[0]]
                    for part in parts[1:]:
                        out.append(values.value())
                        out.append(part)
                    yield "".join(out)
                    produced += 1
                    if produced >= lines:
                        return


def _long_message(rng: random.Random, values: _Values) -> str:
    if rng.random() < 0.5:
        pairs = " ".join(f"{values.word()}={values.value()}" for _ in range(rng.randint(10, 40)))
        return f"request context dump: {pairs}"
    frames = " ".join(
        f"at com.{values.word()}.{values.word()}.{values.word().title()}.{values.word()}"
        f"({values.word().title()}.java:{rng.randrange(1, 3000)})"
        for _ in range(rng.randint(10, 40))
    )
    return f"java.lang.IllegalStateException: {values.word()} failed {frames}"


def json_stream(lines: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    values = _Values(rng)
    base = build_stream(lines, seed)
    start = 1_767_225_600.0
    for index, line in enumerate(base):
        message = _long_message(rng, values) if rng.random() < 0.05 else _revalue(line, rng)
        record = {
            "timestamp": round(start + index * 0.01, 3),
            "level": rng.choice(LEVELS),
            "service": f"svc-{rng.randrange(8)}",
            "trace_id": f"{rng.getrandbits(128):032x}",
            "message": message,
            "attributes": {"http.status": rng.choice((200, 200, 204, 404, 500)), "pod": f"pod-{rng.randrange(50)}"},
        }
        yield json.dumps(record, separators=(",", ":"))


def build(kind: str, lines: int, seed: int) -> Iterator[str]:
    if kind == "ids":
        return build_stream(lines, seed)
    if kind == "words":
        return words_stream(lines, seed)
    return json_stream(lines, seed)


def write(kind: str, path: Path, lines: int, seed: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for line in build(kind, lines, seed):
            handle.write(line.replace("\n", " ") + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("output", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write(args.kind, args.output, args.lines, args.seed)


if __name__ == "__main__":
    main()
