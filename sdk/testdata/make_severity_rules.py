"""Writes severity_rules.json from lipservice_sdk.severity; a test fails when the committed file differs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from lipservice_sdk.severity import rules_document

RULES_PATH = Path(__file__).resolve().parent / "severity_rules.json"


def rendered() -> str:
    return json.dumps(rules_document(), indent=2) + "\n"


if __name__ == "__main__":
    RULES_PATH.write_text(rendered())
    print(f"wrote {RULES_PATH}")
