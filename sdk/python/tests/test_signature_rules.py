"""The committed data files that other SDKs load (masking rules, policy defaults) are exactly what lipservice_sdk
defines."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

from lipservice_sdk.signature import MASKING_RULES

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"


def _generator(name: str = "make_signature_rules") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TESTDATA / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_rules_file_equals_the_generated_one() -> None:
    committed = (TESTDATA / "signature_rules.json").read_text(encoding="utf-8")
    assert committed == _generator().render(), "run python sdk/testdata/make_signature_rules.py"


def test_rules_file_lists_every_rule_in_order() -> None:
    rules = json.loads((TESTDATA / "signature_rules.json").read_text(encoding="utf-8"))["rules"]
    assert [(r["name"], r["pattern"], r["placeholder"]) for r in rules] == [
        (r.name, r.pattern, r.placeholder) for r in MASKING_RULES
    ]
    for rule in rules:
        re.compile(rule["pattern"])


def test_committed_policy_defaults_equal_the_generated_ones() -> None:
    committed = (TESTDATA / "policy_defaults.json").read_text(encoding="utf-8")
    assert committed == _generator("make_policy_defaults").render(), "run python sdk/testdata/make_policy_defaults.py"
