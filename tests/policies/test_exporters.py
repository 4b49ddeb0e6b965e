"""Exporters: SDK JSON round-trips; drop rules never drop or sample errors; template regexes cover their lines."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.policy import PolicyDocument, policy_from_dict, policy_from_json
from lipservice_sdk.signature import template_matches

from policies.exporters import policy_to_drop_rules, policy_to_hog_policy, policy_to_sdk_json, template_to_raw_regex
from policies.exporters.drop_rules import POSTHOG_BUCKETS

VECTORS = Path(__file__).resolve().parents[2] / "sdk" / "testdata" / "signature_vectors.jsonl"
# Lines whose raw text a regex cannot reproduce the masking of: the SDK masks a cut, re-encoded copy of the text.
RAW_REGEX_LIMITS = {"lone surrogate replaced", "placeholder text", "long line truncated", "many tokens truncated"}


def _random_policy(rng: random.Random) -> PolicyDocument:
    rates = [0.0, 0.0, 0.01, 0.3, 0.7, 1.0]
    return policy_from_dict(
        {
            "service": "svc",
            "severity_rates": {name: rng.choice(rates) for name in ("TRACE", "DEBUG", "INFO", "WARN")},
            "default_rate": rng.choice(rates),
            "patterns": [
                {"id": f"p{i}", "template": f"event {i} <*> took <NUM>", "rate": rng.choice(rates)}
                for i in range(rng.randint(0, 6))
            ],
            "keep": {
                "first_per_pattern": True,
                "window_seconds": 60,
                "attributes": [{"attribute": "http.status_code", "op": rng.choice(["gte", "gt"]), "value": 500}],
            },
        }
    )


def _severities(document: PolicyDocument, error_patterns: set[str]) -> dict[str, dict[str, int]]:
    return {p.id: ({"ERROR": 3, "INFO": 10} if p.id in error_patterns else {"INFO": 10}) for p in document.patterns}


@pytest.mark.parametrize("seed", range(40))
def test_drop_rules_never_drop_or_sample_errors(seed: int) -> None:
    rng = random.Random(seed)
    document = _random_policy(rng)
    error_patterns = {p.id for p in document.patterns if rng.random() < 0.5}
    rules = policy_to_drop_rules(document, pattern_severities=_severities(document, error_patterns))

    severity_rules = [r for r in rules if r["rule_type"] == "severity_sampling"]
    assert len(severity_rules) == 1
    assert severity_rules[0]["config"]["actions"]["ERROR"] == {"type": "keep"}
    for rule in rules:
        if rule["rule_type"] == "path_drop":
            pattern_id = rule["name"].rsplit(":", 1)[1]
            assert pattern_id not in error_patterns
            values = rule["config"]["filter_group"]["values"]
            assert {"key": "severity_text", "type": "log", "operator": "is_not", "value": ["error", "fatal"]} in values


@pytest.mark.parametrize("seed", range(40))
def test_severity_actions_keep_at_least_what_the_policy_keeps(seed: int) -> None:
    document = _random_policy(random.Random(seed))
    actions = policy_to_drop_rules(document)[-1]["config"]["actions"]
    for bucket, severities in POSTHOG_BUCKETS.items():
        if bucket == "ERROR":
            continue
        needed = max(
            [document.severity_rates.get(s, document.default_rate) for s in severities]
            + [p.rate for p in document.patterns]
        )
        action = actions[bucket]
        granted = {"keep": 1.0, "drop": 0.0}.get(action["type"], action.get("rate", -1))
        assert granted >= min(needed, 1.0) - 1e-9, (bucket, needed, action)


def test_path_drop_only_for_dead_patterns_with_known_error_free_history() -> None:
    document = policy_from_dict(
        {
            "service": "svc",
            "patterns": [
                {"id": "dead", "template": "GET /healthz <NUM>", "rate": 0.0},
                {"id": "dead-but-errors", "template": "retrying <*>", "rate": 0.0},
                {"id": "dead-unknown", "template": "tick <NUM>", "rate": 0.0},
                {"id": "alive", "template": "order <NUM> placed", "rate": 0.2},
            ],
        }
    )
    severities = {"dead": {"INFO": 5}, "dead-but-errors": {"INFO": 5, "FATAL": 1}, "alive": {"INFO": 5}}
    rules = policy_to_drop_rules(document, pattern_severities=severities)
    assert [r["name"] for r in rules if r["rule_type"] == "path_drop"] == ["lipservice:svc:drop:dead"]
    regex = rules[0]["config"]["filter_group"]["values"][0]["value"]
    assert re.search(regex, "GET /healthz 200") and not re.search(regex, "GET /healthz/deep 200")


def test_always_keep_carries_the_status_threshold() -> None:
    document = policy_from_dict(
        {"service": "svc", "keep": {"attributes": [{"attribute": "http.status_code", "op": "gte", "value": 500}]}}
    )
    assert policy_to_drop_rules(document)[-1]["config"]["always_keep"] == {"status_gte": 500}


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ({"DEBUG": 0.0, "TRACE": 0.0}, {"type": "drop"}),
        ({"DEBUG": 1.0, "TRACE": 0.0}, {"type": "keep"}),
        ({"DEBUG": 0.25, "TRACE": 0.1}, {"type": "sample", "rate": 0.25}),
    ],
)
def test_debug_bucket_takes_the_higher_of_trace_and_debug(rates: dict[str, float], expected: dict[str, Any]) -> None:
    document = policy_from_dict({"service": "svc", "severity_rates": rates, "default_rate": 0.0})
    assert policy_to_drop_rules(document)[-1]["config"]["actions"]["DEBUG"] == expected


def test_sdk_json_round_trips_with_a_stable_etag() -> None:
    document = _random_policy(random.Random(1))
    text = policy_to_sdk_json(document)
    parsed = policy_from_json(text)
    assert parsed.etag
    assert policy_to_sdk_json(parsed) == text
    assert policy_to_sdk_json(json.loads(text)) == text


def test_hog_policy_orders_patterns_most_specific_first() -> None:
    document = policy_from_dict(
        {
            "service": "svc",
            "patterns": [
                {"id": "broad", "template": "<*> <*> done", "rate": 0.1},
                {"id": "narrow", "template": "upload <*> done", "rate": 0.9},
            ],
        }
    )
    assert [p["id"] for p in policy_to_hog_policy(document)["patterns"]] == ["narrow", "broad"]


def test_template_regexes_match_the_raw_lines_of_the_shared_signature_vectors() -> None:
    misses = set()
    for line in VECTORS.read_text().splitlines():
        vector = json.loads(line)
        if not re.search(template_to_raw_regex(vector["key"]), vector["message"]):
            misses.add(vector.get("note", vector["message"][:40]))
    assert misses <= RAW_REGEX_LIMITS, misses - RAW_REGEX_LIMITS


@pytest.mark.parametrize(
    ("template", "line", "matches"),
    [
        ("User <*> logged in", "User alice logged in", True),
        ("User <*> logged in", "User alice bob logged in", True),
        ("User <*> logged in", "User logged in", True),
        ("User <*> logged in", "  User  alice logged in \n", True),
        ("User <*> logged in", "User alice logged out", False),
        ("User <*> logged in", "Useralice logged in", False),
        ("<*> <*> done", "done", True),
        ("<*> close, <NUM> bytes <*> sent", "host:1 close, 3 bytes (1.0 KB) sent", True),
        ("<*> close, <NUM> bytes <*> sent", "close, 3 bytes sent extra", False),
        ("<*>", "", True),
        ("", "", True),
        ("", "x", False),
        ("took <NUM> for <UUID>", "took 35ms for 9b79044c-1a53-4f91-bd15-a9a0e24e6dbc", True),
        ('search q="<STR>" hits=<NUM>', 'search q="shoes" hits=12', True),
        ('search q="<STR>" hits=<NUM>', 'search q="red shoes" hits=12', False),
        ("copied <NUM> in <NUM>", "copied 1.05 KB in 35 ms", True),
        ("connect to <IP> failed", "connect to 10.0.0.1:5432 failed", True),
        ("a.b <*>", "aXb c", False),
    ],
)
def test_template_to_raw_regex(template: str, line: str, matches: bool) -> None:
    assert bool(re.search(template_to_raw_regex(template), line)) is matches
    # The exported regex and the SDK's matcher must agree, or PostHog and the SDK would sample differently.
    assert template_matches(template, line) is matches
