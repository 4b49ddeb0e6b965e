"""The Hog transformation: PostHog's parser accepts it, and run on PostHog's VM it decides as the SDK does."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.decision import Decider
from lipservice_sdk.policy import AnomalyBoost, KeepRules, PolicyDocument, policy_from_dict
from lipservice_sdk.severity import ALWAYS_KEPT, SEVERITIES, read_severity
from lipservice_sdk.signature import WILDCARD, signature_of_key, template_key

from patterns.demo import DEMO_SERVICES, generate
from policies.exporters.hog import (
    hog_function_body,
    hog_policy_settings,
    hog_source,
    hog_template,
    hog_template_json,
    policy_to_hog_policy,
)
from tests.posthog_app import hog_runner

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "posthog_app" / "hog" / "template.json"
RATES = (0.0, 0.05, 0.25, 0.5, 0.9, 1.0)
# A fixed demo window: the generated lines depend on the end hour, and a test must see the same lines every run.
# This window holds lines matched only through a whole-token wildcard spanning several tokens.
DEMO_END = datetime(2026, 11, 23, 8, tzinfo=UTC)


def test_template_parses_with_posthog_parser() -> None:
    result = hog_runner.parse(hog_source())
    assert result == {"ok": True}, result


@pytest.mark.parametrize(
    "broken",
    [
        lambda code: code.replace("return kept", "return kept }"),
        lambda code: code.replace("let policy :=", "let policy ="),
        lambda code: code + "\nif (true {",
    ],
)
def test_parser_check_rejects_invalid_hog(broken: Any) -> None:
    result = hog_runner.parse(broken(hog_source()))
    assert result["ok"] is False
    assert result["error"]["type"] in {"SyntaxError", "ParsingError"}


def test_committed_template_matches_the_generator() -> None:
    assert TEMPLATE_FILE.read_text() == hog_template_json(), "run `manage.py posthog_app template --write`"
    template = hog_template()
    assert template["type"] == "transformation_log"
    assert template["code_language"] == "hog"
    assert [field["key"] for field in template["inputs_schema"]] == ["policies"]


def _sample_records(service: str, count: int, rng: random.Random) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for line in itertools.islice(generate(service=service, end=DEMO_END, days=2, scale=0.05), count):
        records.append(
            {
                "service_name": service,
                "body": line.body,
                "severity_text": line.severity.lower(),
                "severity_number": 0,
                "trace_id": line.trace_id or f"{rng.getrandbits(128):032x}",
                "attributes": dict(line.attributes),
            }
        )
    return records


def _policy_for(service: str, records: list[dict[str, Any]], rng: random.Random) -> PolicyDocument:
    keys = sorted({template_key(r["body"]) for r in records})
    patterns = []
    for index, key in enumerate(keys):
        tokens = key.split(" ")
        template = key
        if index % 3 == 0 and len(tokens) > 2:
            # Wildcards where the miner would put them: a variable token of the key.
            tokens[-1] = WILDCARD
            template = " ".join(tokens)
        patterns.append(
            {
                "id": f"p{index:03d}",
                "template": template,
                "signatures": [signature_of_key(key)],
                "rate": rng.choice(RATES),
                "reason": "test",
            }
        )
    return policy_from_dict(
        {
            "service": service,
            "severity_rates": {"TRACE": 0.0, "DEBUG": 0.1, "INFO": 0.3, "WARN": 0.6},
            "default_rate": 0.4,
            "patterns": patterns[: len(patterns) - 3],  # some lines match no pattern
            "keep": {"first_per_pattern": False, "first_per_signature": False, "window_seconds": 0, "attributes": []},
            "anomaly_boost": {"enabled": False, "factor": 1, "threshold": 1, "duration_seconds": 0},
        }
    )


def _python_decision(policy: PolicyDocument, record: dict[str, Any]) -> tuple[bool, float, str]:
    decision = Decider(policy).decide(
        message=record["body"],
        severity=record["severity_text"] or record.get("severity_number"),
        trace_id=record["trace_id"],
        attributes=record["attributes"],
    )
    pattern = "unmatched" if decision.pattern_id.startswith("sig:") else decision.pattern_id
    return decision.keep, decision.rate, pattern


def _hog_decision(result: dict[str, Any] | None) -> tuple[bool, float, str] | None:
    if result is None:
        return None
    attributes = result["attributes"]
    # An error is kept before any pattern work, so it carries no pattern.
    return True, float(attributes["lipservice.sample_rate"]), attributes.get("lipservice.pattern", "")


@pytest.mark.parametrize("service", sorted(DEMO_SERVICES))
def test_hog_decision_agrees_with_sdk_decision_on_demo_logs(service: str) -> None:
    rng = random.Random(service)
    records = _sample_records(service, 600, rng)
    # Errors, attribute keeps and odd severity spellings that the demo slice may not contain.
    for record in rng.sample(records, 60):
        record["severity_text"] = rng.choice(["error", "fatal", "[warn]", "critical", "", "13", "verbose"])
        if record["severity_text"] == "":
            record["severity_number"] = rng.choice([0, 5, 9, 17, 21])
    for record in rng.sample(records, 20):
        record["attributes"]["http.status_code"] = rng.choice([200, 404, 500, "503"])
    policy = _policy_for(service, records, rng)
    policy = replace(policy, keep=replace(policy.keep, attributes=KeepRules().attributes))
    inputs = {"policies": {service: policy_to_hog_policy(policy)}}

    results = hog_runner.run(hog_source(), inputs=inputs, records=records)

    expected, actual = [], []
    for record, result in zip(records, results, strict=True):
        keep, rate, pattern = _python_decision(policy, record)
        if read_severity(record["severity_text"], record.get("severity_number")) in ALWAYS_KEPT:
            pattern = ""
        expected.append((keep, rate, pattern) if keep else None)
        actual.append(_hog_decision(result))
    disagreements = [(r["body"], e, a) for r, e, a in zip(records, expected, actual, strict=True) if e != a]
    assert not disagreements, f"{len(disagreements)} of {len(records)} differ, e.g. {disagreements[:5]}"
    kept = sum(1 for e in expected if e is not None)
    assert 0 < kept < len(records), "the sample must exercise both keeping and dropping"


@pytest.mark.parametrize("inner_keys", [1, 40])
def test_hog_finds_patterns_through_its_index_as_the_sdk_does(inner_keys: int) -> None:
    """Templates crowding one key, ids and literals beyond the BMP, whitespace Hog source cannot spell, inner-token
    keys (few: listed; many: every token looked up), and enough keys for a hash table of many buckets: each record's
    pattern is the SDK's."""
    patterns = [{"id": f"job-{n}-\U0001f680", "template": f"job <*> step{n} done", "rate": 1.0} for n in range(40)]
    patterns += [{"id": f"inner-{n}", "template": f"<*> inner{n} <NUM>", "rate": 1.0} for n in range(inner_keys - 1)]
    patterns += [{"id": f"user-{n}", "template": f"user{n} logged in via <*>", "rate": 1.0} for n in range(300)]
    patterns += [
        {"id": "\U0001d518-id", "template": "payload \U0001d518nicode <*> ok", "rate": 1.0},
        {"id": "retry", "template": "<*> retry <NUM> <*>", "rate": 1.0},
    ]
    policy = policy_from_dict({"service": "api", "default_rate": 1.0, "patterns": patterns})
    bodies = [
        "job 42 step7 done",
        "job 42 step99 done",
        "job 42 step7 done twice",
        "user5\xa0logged in\u2003via  web",
        "user5 logged\x1cin via ☃",
        "payload \U0001d518nicode \U0001f680 ok",
        "  conn retry 3 later ",
        "retry 3",
        "nothing here",
    ]
    records = [
        {"service_name": "api", "body": body, "severity_text": "info", "trace_id": "ab12", "attributes": {}}
        for body in bodies
    ]

    results = hog_runner.run(hog_source(), inputs={"policies": {"api": policy_to_hog_policy(policy)}}, records=records)

    assert [_hog_decision(result) for result in results] == [_python_decision(policy, r) for r in records]
    assert [result["attributes"]["lipservice.pattern"] for result in results if result is not None] == [
        "job-7-\U0001f680",
        "unmatched",
        "unmatched",
        "user-5",
        "user-5",
        "\U0001d518-id",
        "retry",
        "retry",
        "unmatched",
    ]


def test_errors_are_kept_even_when_every_rate_is_zero() -> None:
    policy = policy_from_dict(
        {
            "service": "api",
            "severity_rates": {"TRACE": 0.0, "DEBUG": 0.0, "INFO": 0.0, "WARN": 0.0},
            "default_rate": 0.0,
            "patterns": [{"id": "boom", "template": "payment <*> failed", "rate": 0.0}],
        }
    )
    records = [
        {
            "service_name": "api",
            "body": "payment 42 failed",
            "severity_text": level,
            "trace_id": "ab12",
            "attributes": {},
        }
        for level in ("error", "fatal", "info", "warn", "debug")
    ] + [{"service_name": "api", "body": "payment 42 failed", "severity_number": 17, "attributes": {}}]
    results = hog_runner.run(hog_source(), inputs={"policies": {"api": policy_to_hog_policy(policy)}}, records=records)
    assert [r is not None for r in results] == [True, True, False, False, False, True]
    assert results[0] is not None and results[0]["attributes"]["lipservice.sample_rate"] == 1


SEVERITY_VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[2] / "sdk" / "testdata" / "severity_vectors.json").read_text()
)["vectors"]


def test_shared_severity_vectors_read_alike_in_hog() -> None:
    """Service `zero` drops everything but errors, a rate-0 pattern matching the body included; service `only-X`
    keeps exactly the bucket X: so each record's bucket is read back from what the transformation kept."""
    zero = policy_from_dict(
        {
            "service": "zero",
            "severity_rates": {name: 0.0 for name in SEVERITIES},
            "default_rate": 0.0,
            "patterns": [{"id": "health", "template": "GET /health <NUM> ms", "rate": 0.0}],
        }
    )
    policies = {"zero": policy_to_hog_policy(zero)}
    for bucket in ("TRACE", "DEBUG", "INFO", "WARN"):
        rates = {name: float(name == bucket) for name in SEVERITIES}
        only = policy_from_dict({"service": f"only-{bucket}", "severity_rates": rates, "default_rate": 0.0})
        policies[f"only-{bucket}"] = policy_to_hog_policy(only)
    records: list[dict[str, Any]] = []
    for service in policies:
        for vector in SEVERITY_VECTORS:
            record: dict[str, Any] = {"service_name": service, "body": "GET /health 12 ms", "trace_id": "ab12"}
            if vector["text"] is not None:
                record["severity_text"] = vector["text"]
            if vector["number"] is not None:
                record["severity_number"] = vector["number"]
            records.append(record)

    results = iter(hog_runner.run(hog_source(), inputs={"policies": policies}, records=records))

    wrong = []
    for service in policies:
        for vector in SEVERITY_VECTORS:
            kept = next(results) is not None
            error = vector["expected"] in ALWAYS_KEPT
            should = error or service == f"only-{vector['expected']}"
            if kept != should:
                wrong.append((service, vector))
    assert wrong == []
    assert any(v["expected"] == "INFO" for v in SEVERITY_VECTORS), "the zero policy must be seen dropping INFO"


def test_services_without_a_policy_pass_through_unchanged() -> None:
    record = {"service_name": "other", "body": "hello", "severity_text": "debug", "attributes": {"a": "b"}}
    results = hog_runner.run(hog_source(), inputs={"policies": {}}, records=[record])
    assert results == [record]


def test_zero_trace_id_falls_back_to_random_sampling() -> None:
    policy = policy_from_dict({"service": "api", "default_rate": 0.5, "severity_rates": {}})
    records = [
        {"service_name": "api", "body": f"line {i}", "severity_text": "info", "trace_id": "0" * 32, "attributes": {}}
        for i in range(400)
    ]
    results = hog_runner.run(hog_source(), inputs={"policies": {"api": policy_to_hog_policy(policy)}}, records=records)
    kept = sum(r is not None for r in results)
    assert 120 < kept < 280, kept


def test_committed_template_is_valid_json_with_the_code() -> None:
    data = json.loads(TEMPLATE_FILE.read_text())
    assert data["code"] == hog_source()
    assert "__SEVERITY_SPELLINGS__" not in data["code"]


def test_policy_entry_keeps_anomaly_and_first_seen_out_of_the_stateless_transformation() -> None:
    policy = policy_from_dict({"service": "api", "anomaly_boost": {"enabled": True}})
    entry = hog_policy_settings(policy_to_hog_policy(replace(policy, anomaly_boost=AnomalyBoost())))
    assert set(entry) == {
        "version",
        "severity_rates",
        "default_rate",
        "trace_consistent",
        "keep_attributes",
        "rare_spaces",
        "index",
    }


def test_template_calls_only_functions_of_the_hog_standard_library() -> None:
    result = hog_runner.functions(hog_source())
    assert result["ok"] and result["calls"], result
    assert result["missing"] == [], result
    assert {"sha256Hex", "match"} <= set(result["calls"])


def test_hog_that_calls_a_missing_function_is_refused() -> None:
    broken = hog_source().replace("sha256Hex(", "sha256HexFast(", 1)
    result = hog_runner.functions(broken)
    assert result["missing"] == ["sha256HexFast"]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_inputs_holding_braces_reach_the_function_as_written() -> None:
    # PostHog's InputsItemSerializer compiles each string of an input as a Hog template (`{...}` is an expression)
    # unless the input's schema says `templating: false`; the policy regexes carry `{8}` and `{1,5}`.
    policy = policy_from_dict(
        {
            "service": "api",
            "patterns": [{"id": "p1", "template": "request <UUID> from <IP> done", "rate": 0.1}],
            "severity_rates": {},
        }
    )
    body = hog_function_body({"api": policy})
    schema = {entry["key"]: entry for entry in body["inputs_schema"]}
    braced = [key for key, item in body["inputs"].items() if any("{" in s for s in _strings(item["value"]))]
    assert braced == ["policies"]
    assert all(schema[key].get("templating", True) is False for key in braced)
    assert all(entry.get("templating", True) is False for entry in hog_template()["inputs_schema"])
