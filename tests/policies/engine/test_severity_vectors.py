"""The shared severity vectors in the server's reading and the simulator, under a policy that keeps only errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.decision import Decision
from lipservice_sdk.policy import policy_from_dict
from lipservice_sdk.severity import ALWAYS_KEPT, SEVERITIES

from patterns.sources.base import severity_of
from policies.engine.pricing import flat_pricing
from policies.engine.simulator import ReplayLine, simulate

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[3] / "sdk" / "testdata" / "severity_vectors.json").read_text()
)["vectors"]
ZERO = policy_from_dict(
    {
        "service": "svc",
        "severity_rates": {name: 0.0 for name in SEVERITIES},
        "default_rate": 0.0,
        "patterns": [{"id": "health", "template": "GET /health <NUM> ms", "rate": 0.0}],
        "keep": {"first_per_pattern": False, "first_per_signature": False, "attributes": []},
    }
)


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['text']!r}/{v['number']}" for v in VECTORS])
def test_server_reading(vector: dict[str, Any]) -> None:
    assert severity_of(vector["text"], vector["number"]) == vector["expected"], vector["note"]


def test_simulator_keeps_every_error_vector_and_drops_the_rest_under_an_all_zero_policy() -> None:
    records = [
        ReplayLine(message="GET /health 12 ms", severity=v["text"] or "", severity_number=v["number"], line_id=i)
        for i, v in enumerate(VECTORS)
    ]
    kept: set[int] = set()

    def note(record: ReplayLine, decision: Decision) -> None:
        if decision.keep:
            kept.add(record.line_id)

    report = simulate(policy=ZERO, records=records, pricing=flat_pricing(0.1), on_decision=note)
    errors = {i for i, v in enumerate(VECTORS) if v["expected"] in ALWAYS_KEPT}
    assert kept == errors
    assert report.errors_total == report.errors_kept == len(errors)
