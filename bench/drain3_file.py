"""The yardstick for whole-process mining: Drain3 (named UUID/IP/HEX/NUM masks, default depth and similarity) over a
file, JSON-lines records by their message as mine_patterns reads them; prints the line and cluster counts."""

from __future__ import annotations

import json
import sys

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

MESSAGE_FIELDS = ("body", "message", "msg", "log")
DRAIN_MASKS = (
    (
        r"((?<=[^A-Za-z0-9])|^)([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
        r"((?=[^A-Za-z0-9])|$)",
        "UUID",
    ),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
)


def miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in DRAIN_MASKS]
    config.profiling_enabled = False
    return TemplateMiner(config=config)


def message(line: str) -> str:
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return line
        if isinstance(data, dict):
            for name in MESSAGE_FIELDS:
                if isinstance(data.get(name), str):
                    return str(data[name])
    return line


def main(path: str) -> None:
    drain = miner()
    lines = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = line.rstrip("\r\n")
            if text.strip():
                drain.add_log_message(message(text))
                lines += 1
    print(json.dumps({"lines": lines, "clusters": len(drain.drain.clusters)}))


if __name__ == "__main__":
    main(sys.argv[1])
