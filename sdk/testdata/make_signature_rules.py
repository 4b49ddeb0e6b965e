"""Writes signature_rules.json: lipservice_sdk.signature's masking rules as data, the one source other SDKs load.

Run `python sdk/testdata/make_signature_rules.py`; sdk/python/tests/test_signature_rules.py fails when the committed
file differs from what this prints. Patterns and placeholders keep the Python/RE2 spelling (\\1 group references);
a loader translates them for its own regex dialect.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from lipservice_sdk import signature

OUT = Path(__file__).resolve().parent / "signature_rules.json"


def rules_document() -> dict[str, Any]:
    requires = signature._REQUIRES  # a pure speed-up, exported so other loaders can skip rules the same way
    return {
        "schema": "lipservice.masking_rules/v1",
        "max_message_chars": signature.MAX_MESSAGE_CHARS,
        "wildcard": signature.WILDCARD,
        "signature": "first 16 hex characters of sha256(template key as UTF-8)",
        "rules": [
            {
                "name": rule.name,
                "pattern": rule.pattern,
                "placeholder": rule.placeholder,
                "requires_any": list(requires.get(rule.name, ())),
                "requires_digit": rule.name in signature._NEEDS_DIGIT,
            }
            for rule in signature.MASKING_RULES
        ],
    }


def render() -> str:
    return json.dumps(rules_document(), indent=2, ensure_ascii=True) + "\n"


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"{len(signature.MASKING_RULES)} rules -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
