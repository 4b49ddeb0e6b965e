"""Writes policy_defaults.json: what lipservice_sdk.policy fills in for the optional fields of a policy document.

Other SDKs read it so that a document that leaves a field out means the same everywhere. Run
`python sdk/testdata/make_policy_defaults.py`; sdk/python/tests/test_signature_rules.py fails when the committed
file differs from what this prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from lipservice_sdk.policy import SCHEMA, policy_from_dict, policy_to_dict

OUT = Path(__file__).resolve().parent / "policy_defaults.json"
IDENTITY = ("service", "version", "etag", "generated_by", "generated_at", "reasoning", "patterns", "severity_rates")


def defaults_document() -> dict[str, Any]:
    filled = policy_to_dict(policy_from_dict({"schema": SCHEMA, "service": "defaults"}))
    return {key: value for key, value in filled.items() if key not in IDENTITY and key != "schema"}


def render() -> str:
    return json.dumps(defaults_document(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"policy defaults -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
