"""The JSON schema and the dataclass parser agree: what one accepts the other accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from lipservice_sdk.policy import PolicyDocument, PolicyFormatError, policy_from_dict

from policies.engine.rules import ReductionTarget, generate_rule_policy
from policies.engine.schema import POLICY_JSON_SCHEMA
from tests.policies.engine.factories import stats


def _generated() -> dict[str, Any]:
    mix = [stats("a", "alpha <*>", 500), stats("b", "beta <*>", 5, severity="DEBUG")]
    when = datetime(2026, 11, 23, tzinfo=UTC)
    policy = generate_rule_policy(service="api", stats=mix, target=ReductionTarget(0.8), generated_at=when)
    document: dict[str, Any] = policy.to_dict()
    return document


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(POLICY_JSON_SCHEMA)


@pytest.mark.parametrize("document", [_generated(), PolicyDocument(service="api").to_dict(), {"service": "api"}])
def test_documents_the_parser_accepts_validate(document: dict[str, Any]) -> None:
    policy_from_dict(document)
    jsonschema.validate(document, POLICY_JSON_SCHEMA)


def test_schema_lists_every_serialised_field() -> None:
    document = _generated()
    assert set(POLICY_JSON_SCHEMA["properties"]) == set(document)
    keep = POLICY_JSON_SCHEMA["properties"]["keep"]["properties"]
    assert set(keep) == set(document["keep"])


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "red"},
        {"default_rate": 2},
        {"severity_rates": {"ERROR": 0.5}},
        {"keep": {"first_per_pattern": False}},
        {"patterns": [{"id": "p", "template": "t", "rate": -1}]},
        {"generated_by": "someone"},
    ],
)
def test_schema_refuses_what_the_safety_rules_refuse(change: dict[str, Any]) -> None:
    document = {**_generated(), **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, POLICY_JSON_SCHEMA)


@pytest.mark.parametrize("change", [{"colour": "red"}, {"default_rate": 2}])
def test_parser_refuses_the_same_shapes(change: dict[str, Any]) -> None:
    with pytest.raises(PolicyFormatError):
        policy_from_dict({**_generated(), **change})
