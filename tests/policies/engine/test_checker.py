"""The safety checker refuses unsafe policies with every violation listed by path and code."""

from __future__ import annotations

from typing import Any

import pytest
from lipservice_sdk.policy import KeepRules, PatternRule, PolicyDocument

from policies.engine.checker import Limits, PolicyInvariantError, check_invariants, find_violations
from tests.policies.engine.factories import stats

SAFE: dict[str, Any] = {
    "service": "api",
    "severity_rates": {"DEBUG": 0.1, "INFO": 0.5, "ERROR": 1.0, "FATAL": 1.0},
    "patterns": [{"id": "p1", "template": "User <*> logged in", "rate": 0.2}],
}


def _with(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {**SAFE, "patterns": [dict(p) for p in SAFE["patterns"]]}
    data["severity_rates"] = dict(SAFE["severity_rates"])
    for key, value in changes.items():
        data[key] = value
    return data


def _codes(document: Any, **kwargs: Any) -> list[tuple[str, str]]:
    return [(i.path, i.code) for i in find_violations(document, **kwargs)]


def test_safe_policy_passes() -> None:
    assert find_violations(SAFE) == []
    assert check_invariants(SAFE).service == "api"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_with(severity_rates={"ERROR": 0.5}), ("$.severity_rates.ERROR", "error_rate")),
        (_with(severity_rates={"FATAL": 0.0}), ("$.severity_rates.FATAL", "error_rate")),
        (_with(severity_rates={"INFO": 1.2}), ("$.severity_rates.INFO", "rate_range")),
        (_with(default_rate=-0.5), ("$.default_rate", "rate_range")),
        (_with(patterns=[{"id": "p1", "template": "x", "rate": 2}]), ("$.patterns[0].rate", "rate_range")),
        (_with(keep={"first_per_pattern": False}), ("$.keep.first_per_pattern", "first_per_pattern")),
        (_with(sampling="uniform"), ("$.sampling", "unknown_field")),
        (_with(generated_by="gpt"), ("$.generated_by", "generated_by")),
        (_with(reasoning="x" * 10_001), ("$.reasoning", "too_long")),
        (_with(patterns=[{"id": "p1", "template": "y" * 2001}]), ("$.patterns[0].template", "too_long")),
        (_with(patterns=[{"id": f"p{i}", "template": "t"} for i in range(5001)]), ("$.patterns", "too_many")),
    ],
)
def test_unsafe_policy_is_refused_with_path_and_code(document: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in _codes(document)
    with pytest.raises(PolicyInvariantError) as caught:
        check_invariants(document)
    assert {"path": expected[0], "code": expected[1]} in [
        {"path": e["path"], "code": e["code"]} for e in caught.value.errors
    ]


def test_dataclass_built_in_code_is_checked_too() -> None:
    document = PolicyDocument(
        service="api",
        severity_rates={"ERROR": 0.9},
        patterns=(PatternRule(id="p", template="t", rate=1.7),),
        keep=KeepRules(first_per_pattern=False),
    )
    assert set(_codes(document)) >= {
        ("$.severity_rates.ERROR", "error_rate"),
        ("$.patterns[0].rate", "rate_range"),
        ("$.keep.first_per_pattern", "first_per_pattern"),
    }


@pytest.mark.parametrize(("count", "rate", "refused"), [(9, 0.5, True), (9, 1.0, False), (10, 0.5, False)])
def test_rare_patterns_stay_at_full_rate(count: int, rate: float, refused: bool) -> None:
    document = _with(patterns=[{"id": "p1", "template": "User <*> logged in", "rate": rate}])
    seen = [stats("p1", "User <*> logged in", count)]
    assert (("$.patterns[0].rate", "rare_pattern") in _codes(document, stats=seen)) is refused


def test_rare_floor_is_configurable() -> None:
    seen = [stats("p1", "User <*> logged in", 40)]
    assert ("$.patterns[0].rate", "rare_pattern") in _codes(SAFE, stats=seen, limits=Limits(rare_floor=50))


@pytest.mark.parametrize(
    ("examples", "refused"),
    [
        (("User alice logged in", "User bob logged in"), False),
        (("User alice logged in", "User bob logged out"), True),
    ],
)
def test_template_must_match_its_own_examples(examples: tuple[str, ...], refused: bool) -> None:
    seen = [stats("p1", "User <*> logged in", 100, examples=examples)]
    assert (("$.patterns[0].template", "template_mismatch") in _codes(SAFE, stats=seen)) is refused


def test_every_violation_is_reported_at_once() -> None:
    document = _with(severity_rates={"ERROR": 0.1}, keep={"first_per_pattern": False})
    assert len(find_violations(document)) == 2
