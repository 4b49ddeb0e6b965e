"""The shared severity vectors and the exported spelling table agree with lipservice_sdk.severity."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.severity import ALWAYS_KEPT, SEVERITIES, SPELLINGS, normalize_severity, read_severity

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
VECTORS: list[dict[str, Any]] = json.loads((TESTDATA / "severity_vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['text']!r}/{v['number']}" for v in VECTORS])
def test_shared_vector(vector: dict[str, Any]) -> None:
    assert read_severity(vector["text"], vector["number"]) == vector["expected"], vector["note"]


def test_committed_rules_equal_the_generated_ones() -> None:
    generator = runpy.run_path(str(TESTDATA / "make_severity_rules.py"), run_name="severity_rules")
    assert (TESTDATA / "severity_rules.json").read_text() == generator["rendered"](), (
        "sdk/testdata/severity_rules.json is stale: run python sdk/testdata/make_severity_rules.py"
    )


def test_vectors_cover_every_bucket_and_every_error_spelling() -> None:
    assert {v["expected"] for v in VECTORS} == set(SEVERITIES)
    texts = {" ".join(str(v["text"] or "").lower().split()) for v in VECTORS}
    missing = [key for key, value in SPELLINGS.items() if value in ALWAYS_KEPT and key not in texts]
    assert missing == []


@pytest.mark.parametrize("number", range(17, 40))
@pytest.mark.parametrize("text", ["info", "debug", "ok", "weird", "", "  ", None, "trace4", "INFO+2"])
def test_an_error_number_wins_over_any_lower_text(text: str | None, number: int) -> None:
    assert read_severity(text, number) in ALWAYS_KEPT


@pytest.mark.parametrize(("value", "expected"), [(17, "ERROR"), (True, "INFO"), ("error4", "ERROR"), (None, "INFO")])
def test_normalize_severity_reads_one_value(value: Any, expected: str) -> None:
    assert normalize_severity(value) == expected
