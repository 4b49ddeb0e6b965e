"""The policy document: defaults, strict parsing with precise paths, and a lossless JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lipservice_sdk.policy import (
    SCHEMA,
    AttributePredicate,
    KeepRules,
    PatternRule,
    PolicyDocument,
    PolicyFormatError,
    compute_etag,
    policy_from_dict,
    policy_from_json,
)


def _full() -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "service": "checkout",
        "version": 3,
        "etag": "",
        "generated_by": "llm:openai:gpt-4o-mini",
        "generated_at": "2026-11-23T05:00:00+00:00",
        "severity_rates": {"TRACE": 0.01, "DEBUG": 0.05, "INFO": 0.2, "WARN": 0.5, "ERROR": 1.0, "FATAL": 1.0},
        "patterns": [
            {"id": "p1", "template": "GET /health <*>", "signatures": ["00ff00ff00ff00ff"], "rate": 0.01, "reason": "r"}
        ],
        "default_rate": 0.5,
        "keep": {
            "first_per_pattern": True,
            "first_per_signature": False,
            "window_seconds": 60,
            "attributes": [{"attribute": "http.status_code", "op": "gte", "value": 500}],
        },
        "anomaly_boost": {"enabled": True, "factor": 5.0, "threshold": 2.0, "duration_seconds": 120},
        "error_context": {"enabled": True, "lines_per_trace": 20, "seconds": 5.0},
        "trace_consistent": False,
        "reasoning": "because",
    }


def test_minimal_document_gets_documented_defaults() -> None:
    policy = policy_from_dict({"service": "api"})
    assert policy.severity_rates == {}
    assert policy.default_rate == 1.0
    assert policy.keep.first_per_pattern is True
    assert policy.trace_consistent is True
    assert policy.patterns == ()


def test_full_document_round_trips_through_json() -> None:
    data = _full()
    policy = policy_from_json(json.dumps(data))
    assert policy.to_dict() == data
    assert policy_from_json(policy.to_json()) == policy


def test_full_document_fields_are_parsed() -> None:
    policy = policy_from_dict(_full())
    assert policy.patterns == (PatternRule("p1", "GET /health <*>", ("00ff00ff00ff00ff",), 0.01, "r"),)
    assert policy.keep == KeepRules(True, 60, (AttributePredicate("http.status_code", "gte", 500),), False)
    assert policy.anomaly_boost.factor == 5.0
    assert policy.error_context.lines_per_trace == 20


@pytest.mark.parametrize(
    ("mutate", "path", "code"),
    [
        (lambda d: d.update(colour="red"), "$.colour", "unknown_field"),
        (lambda d: d["keep"].update(firstPerPattern=True), "$.keep.firstPerPattern", "unknown_field"),
        (lambda d: d["patterns"][0].update(weight=2), "$.patterns[0].weight", "unknown_field"),
        (lambda d: d["severity_rates"].update(NOTICE=0.5), "$.severity_rates.NOTICE", "unknown_field"),
        (lambda d: d["patterns"][0].update(rate=1.5), "$.patterns[0].rate", "rate_range"),
        (lambda d: d["severity_rates"].update(INFO=-0.1), "$.severity_rates.INFO", "rate_range"),
        (lambda d: d.update(default_rate="half"), "$.default_rate", "rate_range"),
        (lambda d: d["patterns"][0].pop("template"), "$.patterns[0].template", "required"),
        (lambda d: d.pop("service"), "$.service", "required"),
        (lambda d: d.update(schema="lipservice.policy/v2"), "$.schema", "unsupported_schema"),
        (lambda d: d["keep"]["attributes"][0].update(op="like"), "$.keep.attributes[0].op", "enum"),
        (lambda d: d["patterns"].append(dict(d["patterns"][0])), "$.patterns[1].id", "duplicate"),
        (lambda d: d.update(trace_consistent="yes"), "$.trace_consistent", "type"),
        (lambda d: d["anomaly_boost"].update(factor=0.5), "$.anomaly_boost.factor", "type"),
    ],
)
def test_invalid_document_is_refused_with_precise_path(mutate: Any, path: str, code: str) -> None:
    data = _full()
    mutate(data)
    with pytest.raises(PolicyFormatError) as caught:
        policy_from_dict(data)
    assert (path, code) in [(issue.path, issue.code) for issue in caught.value.issues]


def test_every_issue_is_reported_at_once() -> None:
    data = _full()
    data["colour"] = "red"
    data["patterns"][0]["rate"] = 2
    with pytest.raises(PolicyFormatError) as caught:
        policy_from_dict(data)
    assert {issue.path for issue in caught.value.issues} == {"$.colour", "$.patterns[0].rate"}


@pytest.mark.parametrize("text", ["{", "[]", "null", '"policy"'])
def test_non_object_json_is_refused(text: str) -> None:
    with pytest.raises(PolicyFormatError):
        policy_from_json(text)


def test_etag_depends_on_content_only() -> None:
    policy = policy_from_dict(_full())
    same = policy_from_dict(_full()).with_etag()
    changed = policy_from_dict({**_full(), "default_rate": 0.25})
    assert policy.with_etag().etag == same.etag == compute_etag(same)
    assert compute_etag(changed) != compute_etag(policy)


@pytest.mark.parametrize(
    ("predicate", "attributes", "expected"),
    [
        (AttributePredicate("http.status_code", "gte", 500), {"http.status_code": 503}, True),
        (AttributePredicate("http.status_code", "gte", 500), {"http.status_code": "502"}, True),
        (AttributePredicate("http.status_code", "gte", 500), {"http.status_code": 404}, False),
        (AttributePredicate("http.status_code", "gte", 500), {}, False),
        (AttributePredicate("duration_ms", "gt", 1000), {"duration_ms": 1000.5}, True),
        (AttributePredicate("route", "eq", "/pay"), {"route": "/pay"}, True),
        (AttributePredicate("route", "ne", "/pay"), {"route": "/pay"}, False),
        (AttributePredicate("tier", "in", ["gold", "vip"]), {"tier": "vip"}, True),
        (AttributePredicate("user", "exists"), {"user": ""}, True),
        (AttributePredicate("http.status_code", "gte", 500), {"http.status_code": "n/a"}, False),
    ],
)
def test_attribute_predicates(predicate: AttributePredicate, attributes: dict[str, Any], expected: bool) -> None:
    assert predicate.matches(attributes) is expected


def test_document_is_immutable() -> None:
    policy = PolicyDocument(service="api")
    with pytest.raises(AttributeError):
        policy.default_rate = 0.0  # type: ignore[misc]
