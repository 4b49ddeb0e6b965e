"""Exporters: SDK JSON round-trips; drop rules never drop or sample errors; template regexes cover their lines."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.policy import PolicyDocument, policy_from_dict, policy_from_json
from lipservice_sdk.severity import ALWAYS_KEPT, SEVERITIES
from lipservice_sdk.signature import template_matches

from policies.exporters import policy_to_drop_rules, policy_to_hog_policy, policy_to_sdk_json, template_to_raw_regex
from policies.exporters.drop_rules import (
    BUCKET_DROP_PRIORITY,
    MAX_PATH_DROPS,
    POSTHOG_BUCKETS,
    SEVERITY_PRIORITY,
    never_error_leaves,
)
from policies.exporters.hog import KEY_TEMPLATES, hog_bucket, hog_policy_index, hog_policy_settings, index_keys

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
            assert all(leaf in values for leaf in never_error_leaves())


@pytest.mark.parametrize("seed", range(40))
def test_severity_rule_keeps_every_bucket(seed: int) -> None:
    document = _random_policy(random.Random(seed))
    actions = policy_to_drop_rules(document)[-1]["config"]["actions"]
    assert actions == {bucket: {"type": "keep"} for bucket in POSTHOG_BUCKETS}


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


def test_only_the_busiest_dead_patterns_get_path_drops_all_ranked_before_the_severity_rule() -> None:
    count = MAX_PATH_DROPS * 2 + 7
    document = policy_from_dict(
        {
            "service": "svc",
            "patterns": [{"id": f"d{i}", "template": f"tick {i} <NUM>", "rate": 0.0} for i in range(count)],
        }
    )
    lines = {f"d{i}": (i * 37) % count + 1 for i in range(count)}  # distinct volumes, not in id order
    rules = policy_to_drop_rules(document, pattern_severities={pid: {"INFO": n} for pid, n in lines.items()})
    drops = [r for r in rules if r["rule_type"] == "path_drop"]
    busiest = sorted(lines, key=lambda pid: -lines[pid])[:MAX_PATH_DROPS]
    assert [r["name"].rsplit(":", 1)[1] for r in drops] == busiest
    assert max(r["priority"] for r in drops) < BUCKET_DROP_PRIORITY < SEVERITY_PRIORITY


def test_always_keep_carries_the_status_threshold() -> None:
    document = policy_from_dict(
        {"service": "svc", "keep": {"attributes": [{"attribute": "http.status_code", "op": "gte", "value": 500}]}}
    )
    assert policy_to_drop_rules(document)[-1]["config"]["always_keep"] == {"status_gte": 500}


def test_path_drops_spare_what_an_always_keep_rule_keeps() -> None:
    document = policy_from_dict(
        {
            "service": "svc",
            "default_rate": 0.0,
            "severity_rates": {name: 0.0 for name in SEVERITIES},
            "keep": {"attributes": [{"attribute": "http.status_code", "op": "gte", "value": 500}]},
        }
    )
    rules = policy_to_drop_rules(document)
    record = {"severity_text": "info", "severity_number": 9, "attributes": {"http.status_code": 503}}
    assert _posthog_keeps(rules, record)
    assert not _posthog_keeps(rules, {**record, "attributes": {"http.status_code": 200}})
    assert not _posthog_keeps(rules, {**record, "attributes": {}})


@pytest.mark.parametrize(
    ("rates", "dropped"),
    [
        ({"DEBUG": 0.0, "TRACE": 0.0, "INFO": 0.5, "WARN": 1.0}, {"debug", "trace", "fine"}),
        ({"DEBUG": 1.0, "TRACE": 0.0, "INFO": 0.5, "WARN": 1.0}, set()),
        ({"DEBUG": 0.25, "TRACE": 0.1, "INFO": 0.0, "WARN": 0.0}, {"info", "warning", "[warn]"}),
    ],
)
def test_dead_buckets_become_one_guarded_path_drop(rates: dict[str, float], dropped: set[str]) -> None:
    document = policy_from_dict({"service": "svc", "severity_rates": rates, "default_rate": 0.0})
    rules = policy_to_drop_rules(document)
    texts = ["debug", "trace", "fine", "info", "warning", "[warn]", "error", "debug error", "crit", "dpanic", "ERROR2"]
    assert {
        text for text in texts if not _posthog_keeps(rules, {"severity_text": text, "severity_number": 5})
    } == dropped


# PostHog's drop rules, as documented: rules in priority order, the first whose scope and filter match decides.
def _leaf_matches(leaf: dict[str, Any], record: dict[str, Any]) -> bool:
    if leaf["type"] in ("AND", "OR"):
        found = [_leaf_matches(child, record) for child in leaf["values"]]
        return all(found) if leaf["type"] == "AND" else any(found)
    if leaf["type"] == "log_attribute":
        value = record.get("attributes", {}).get(leaf["key"])
    elif leaf["key"] == "message":
        value = record.get("body", "")
    elif leaf["key"] == "severity_text":
        value = str(record.get("severity_text") or "").lower()  # PostHog stores the text lower-cased
    else:
        value = record.get(leaf["key"]) or 0
    operator = leaf["operator"]
    if operator == "regex":
        return re.search(leaf["value"], value) is not None
    if operator == "not_regex":
        return re.search(leaf["value"], value) is None
    if operator == "is_not_set":
        return value is None
    if value is None:
        return False
    if operator == "is_not":
        return value not in leaf["value"]
    compare = {"lt": float.__lt__, "lte": float.__le__, "gt": float.__gt__, "gte": float.__ge__}[operator]
    return bool(compare(float(value), float(leaf["value"])))
    raise AssertionError(f"an operator the evaluator does not know: {operator}")


def _posthog_keeps(rules: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    for rule in sorted(rules, key=lambda r: r["priority"]):
        if rule["rule_type"] == "path_drop":
            group = rule["config"]["filter_group"]
            assert group["type"] == "AND"
            if all(_leaf_matches(leaf, record) for leaf in group["values"]):
                return False
        elif rule["rule_type"] == "severity_sampling":
            text = str(record.get("severity_text") or "").lower()
            number = int(record.get("severity_number") or 0)
            bucket = {"trace": "DEBUG", "debug": "DEBUG", "info": "INFO", "warn": "WARN", "warning": "WARN"}.get(text)
            if bucket is None and not text:
                bucket = "ERROR" if number >= 17 else "WARN" if number >= 13 else "INFO" if number >= 9 else "DEBUG"
            action = rule["config"]["actions"].get(bucket or "INFO", {"type": "keep"})
            return bool(action["type"] == "keep")
    return True


SEVERITY_VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[2] / "sdk" / "testdata" / "severity_vectors.json").read_text()
)["vectors"]


def test_shared_severity_vectors_survive_drop_rules_under_an_all_zero_policy() -> None:
    document = policy_from_dict(
        {
            "service": "svc",
            "severity_rates": {name: 0.0 for name in SEVERITIES},
            "default_rate": 0.0,
            "patterns": [{"id": "health", "template": "GET /health <NUM> ms", "rate": 0.0}],
        }
    )
    rules = policy_to_drop_rules(document, pattern_severities={"health": {"INFO": 10}})
    assert {r["name"] for r in rules} >= {"lipservice:svc:drop:health", "lipservice:svc:drop-severities"}
    lost, dropped_info = [], 0
    for vector in SEVERITY_VECTORS:
        record = {
            "body": "GET /health 12 ms",
            "severity_text": vector["text"],
            "severity_number": vector["number"],
            "attributes": {"http.status_code": 200},
        }
        kept = _posthog_keeps(rules, record)
        if vector["expected"] in ALWAYS_KEPT and not kept:
            lost.append(vector)
        dropped_info += int(vector["expected"] == "INFO" and not kept)
    assert lost == []
    assert dropped_info > 20, "an all-zero policy must still drop INFO lines natively"


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
    buckets, fallback = hog_policy_index(policy_to_hog_policy(document))
    refs = sorted([*fallback, *(ref for bucket in buckets for refs in bucket.values() for ref in refs)])
    assert [(ref.position, ref.pattern_id, ref.rate) for ref in refs] == [(1, "narrow", 0.9), (2, "broad", 0.1)]
    assert refs[0].regex == template_to_raw_regex("upload <*> done", spaces_normalized=True)


def test_hog_index_files_each_template_under_what_a_matching_message_must_carry() -> None:
    templates = {
        "deep": "GET /health <NUM> ms",
        "last": "<NUM> bytes sent",
        "inner": "<*> retry <NUM>",
        "none": "<*> <NUM>",
    }
    document = policy_from_dict(
        {"service": "svc", "patterns": [{"id": i, "template": t, "rate": 0.1} for i, t in templates.items()]}
    )
    entry = policy_to_hog_policy(document)
    buckets, fallback = hog_policy_index(entry)
    filed = {key: [ref.pattern_id for ref in refs] for bucket in buckets for key, refs in bucket.items()}
    assert filed == {"FGET": ["deep"], "Lsent": ["last"], "Aretry": ["inner"]}
    assert [ref.pattern_id for ref in fallback] == ["none"]
    assert index_keys(list(templates.values())) == (["FGET", "Lsent", "Aretry", None], set())
    layout = hog_policy_settings(entry)["index"]
    at, length = layout["anywhere"]
    assert entry[at - 1 : at - 1 + length] == "\nAretry\n" and layout["anywhere_all"] is False


def test_hog_index_buckets_stay_short_however_many_templates() -> None:
    templates = [f"job{n} <*> step {n % 7} done" for n in range(5000)]
    document = policy_from_dict(
        {"service": "svc", "patterns": [{"id": f"p{n}", "template": t, "rate": 0.5} for n, t in enumerate(templates)]}
    )
    entry = policy_to_hog_policy(document)
    digits = hog_policy_settings(entry)["index"]["digits"]
    buckets, fallback = hog_policy_index(entry)
    assert len(buckets) == 16**digits > 1 and fallback == []
    assert sum(len(bucket) for bucket in buckets) == 5000
    assert all(hog_bucket(key, digits) == number for number, bucket in enumerate(buckets) for key in bucket)
    assert max(len(bucket) for bucket in buckets) <= 12


def test_hog_index_files_a_crowded_prefix_one_token_deeper() -> None:
    """A key holding more than KEY_TEMPLATES templates files those with a longer literal prefix under a longer key,
    and says so; templates whose literal prefix ends there stay under it."""
    templates = [f"Failed password for {user} from <IP>" for user in ("root", "admin", "guest", "oracle", "test")]
    templates += ["Failed password <*>", "Failed login for <*>"]
    keys, deeper = index_keys(templates)
    assert len(templates) > KEY_TEMPLATES
    assert keys == [
        "FFailed password for root",
        "FFailed password for admin",
        "FFailed password for guest",
        "FFailed password for oracle",
        "FFailed password for test",
        "FFailed password",
        "FFailed login",
    ]
    assert deeper == {"FFailed", "FFailed password", "FFailed password for"}


def test_hog_index_lists_a_crowded_key_by_check_token() -> None:
    """Templates alike to the end of their literal prefix beyond KEY_TEMPLATES (variants of one line): the key's
    refs are read back whole, listed by the token that tells them apart."""
    steps = [f"step{n}" for n in range(KEY_TEMPLATES + 3)]
    patterns = [{"id": s, "template": f"job <*> {s} done", "rate": 0.5} for s in steps]
    patterns += [{"id": "plain", "template": "job <*> done", "rate": 0.5}, {"id": "bare", "template": "job <*>"}]
    entry = policy_to_hog_policy(policy_from_dict({"service": "svc", "patterns": patterns}))
    buckets, _ = hog_policy_index(entry)
    refs = next(bucket["Fjob"] for bucket in buckets if "Fjob" in bucket)
    assert [ref.pattern_id for ref in refs] == [*steps, "plain", "bare"]
    assert {ref.pattern_id: ref.check for ref in refs} == {
        **{s: f" {s} \n done " for s in steps},
        "plain": " done ",
        "bare": "",
    }


def test_hog_refs_under_one_key_carry_the_token_that_tells_them_apart() -> None:
    """Templates filed under one key differ in a literal token their messages must carry: Hog skips the regex of a
    template whose token the message lacks."""
    steps = ["fetch", "parse", "store", "index"]
    document = policy_from_dict(
        {"service": "svc", "patterns": [{"id": s, "template": f"job <*> step {s} done", "rate": 0.5} for s in steps]}
    )
    buckets, _ = hog_policy_index(policy_to_hog_policy(document))
    refs = next(bucket["Fjob"] for bucket in buckets if "Fjob" in bucket)
    assert {ref.pattern_id: ref.check.split("\n")[0] for ref in refs} == {s: f" {s} " for s in steps}


@pytest.mark.parametrize(
    ("template", "line", "needles"),
    [
        ("job <*> step done", "job 42 step done", {" step ", " done "}),
        ("r24=<HEX> r25=<HEX>", "r24=0x1f r25=ff", {" r24=", " r25="}),
        ("took <NUM>ms for <*>", "took 35ms for a b", {"ms ", " for "}),
        ('search q="<STR>" hits=<NUM>', 'search q="shoes" hits=12', {" q=", " hits="}),
    ],
)
def test_hog_checks_text_that_every_line_the_regex_matches_holds(template: str, line: str, needles: set[str]) -> None:
    document = policy_from_dict({"service": "svc", "patterns": [{"id": "p", "template": template, "rate": 0.5}]})
    buckets, fallback = hog_policy_index(policy_to_hog_policy(document))
    (ref,) = [*fallback, *(ref for bucket in buckets for refs in bucket.values() for ref in refs)]
    assert set(ref.check.split("\n")) == needles
    assert re.search(ref.regex, line)
    assert all(needle in f" {line} " for needle in needles)


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
