"""Policy → PostHog drop rules (`/logs/sampling_rules/`): path drops for dead patterns and dead severity buckets.

PostHog buckets a record by its text before its number, so its severity rule would sample `info` with severity
number 18, `ERROR2` or `dpanic` as whatever bucket it reads: an error can be lost there. The severity rule therefore
keeps every bucket (it stays so that one installed earlier is overwritten) and carries the always-keep thresholds.
What is dropped natively is dropped by `path_drop` rules, each of which excludes every record that could read as an
error under lipservice_sdk.severity: severity number 17 or above, or a text with any error spelling as a word.
A pattern at rate 0 whose counted history has no ERROR or FATAL line gets one; so does a set of severity buckets that
nothing in the policy keeps at all; both also exclude what an always-keep rule keeps. Fractional rates are the Hog
transformation's job. A policy with an always-keep rule that a filter cannot negate (`ne`) gets no path drop.

Every path drop costs every record of the service one regex test, while the Hog transformation (which drops the same
lines anyway) costs about the same per record whatever the policy's size; bench/RESULTS.md "Native drop rules against
the Hog path" measures both. So only the MAX_PATH_DROPS dead patterns with the most lines get a native drop: each
saves the transformation's run on its lines for about a microsecond per record, and they all rank before the bucket
drop and the severity rule (first match by priority, so a rule ranked after the severity rule would never fire).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lipservice_sdk.policy import PolicyDocument
from lipservice_sdk.severity import ERROR_NUMBER, SPELLINGS, error_spellings

from policies.exporters.hog import template_to_raw_regex

DROP_RULE_PREFIX = "lipservice"
SEVERITY_PRIORITY = 100
PATH_DROP_PRIORITY = 10
BUCKET_DROP_PRIORITY = 90
MAX_PATH_DROPS = BUCKET_DROP_PRIORITY - PATH_DROP_PRIORITY
# PostHog's buckets and the policy severities they hold (PostHog maps TRACE into DEBUG, FATAL into ERROR).
POSTHOG_BUCKETS: dict[str, tuple[str, ...]] = {
    "DEBUG": ("TRACE", "DEBUG"),
    "INFO": ("INFO",),
    "WARN": ("WARN",),
    "ERROR": ("ERROR", "FATAL"),
}
_STATUS_ATTRIBUTES = ("http.status_code", "http.response.status_code", "status_code", "status")
_LATENCY_ATTRIBUTES = ("duration_ms", "latency_ms", "http.duration_ms", "http.server.duration")


def severity_rule_name(service: str) -> str:
    return f"{DROP_RULE_PREFIX}:{service}:severity"


def path_drop_rule_name(service: str, pattern_id: str) -> str:
    return f"{DROP_RULE_PREFIX}:{service}:drop:{pattern_id}"


def bucket_drop_rule_name(service: str) -> str:
    return f"{DROP_RULE_PREFIX}:{service}:drop-severities"


def _words_regex(words: list[str]) -> str:
    """A case-insensitive regex for a text holding one of `words` as a word of [a-z0-9] (trailing digits allowed),
    as lipservice_sdk.severity reads words."""
    alternatives = "|".join(word.replace(" ", "[^a-z0-9]+") for word in sorted(words, key=lambda w: (-len(w), w)))
    return f"(?i)(^|[^a-z0-9])({alternatives})[0-9]*([^a-z0-9]|$)"


# A text that is a number of 17 or more on its own, as the reading takes it.
_ERROR_NUMBER_TEXT = r"^[^a-z0-9]*0*(1[7-9]|[2-9][0-9]|[1-9][0-9]{2,})[^a-z0-9]*$"
ERROR_TEXT_REGEX = _words_regex(error_spellings())


def never_error_leaves() -> list[dict[str, Any]]:
    """Filter leaves that no record reading as ERROR or FATAL passes (a superset of the reading's errors is refused)."""
    return [
        {"key": "severity_number", "type": "log", "operator": "lt", "value": ERROR_NUMBER},
        {"key": "severity_text", "type": "log", "operator": "not_regex", "value": ERROR_TEXT_REGEX},
        {"key": "severity_text", "type": "log", "operator": "not_regex", "value": _ERROR_NUMBER_TEXT},
    ]


# The operator that holds when an always-keep predicate does not (an unset attribute never keeps a line either).
_NEGATED = {"gte": "lt", "gt": "lte", "lt": "gte", "lte": "gt", "eq": "is_not", "in": "is_not"}


def _keep_leaves(document: PolicyDocument) -> list[dict[str, Any]] | None:
    """Filter nodes that hold only for lines no always-keep rule keeps; None when a rule cannot be negated."""
    leaves: list[dict[str, Any]] = []
    for predicate in document.keep.attributes:
        unset = {"key": predicate.attribute, "type": "log_attribute", "operator": "is_not_set"}
        if predicate.op == "exists":
            leaves.append(unset)
            continue
        negated = _NEGATED.get(predicate.op)
        if negated is None:
            return None
        value = predicate.value if predicate.op != "eq" else [predicate.value]
        other = {"key": predicate.attribute, "type": "log_attribute", "operator": negated, "value": value}
        leaves.append({"type": "OR", "values": [unset, other]})
    return leaves


def _bucket_rate(document: PolicyDocument, bucket: str) -> float:
    severity_rate = max(document.severity_rates.get(name, document.default_rate) for name in POSTHOG_BUCKETS[bucket])
    pattern_rate = max((rule.rate for rule in document.patterns), default=0.0)
    return float(min(1.0, max(severity_rate, pattern_rate)))


def _always_keep(document: PolicyDocument) -> dict[str, Any]:
    keep: dict[str, Any] = {}
    for predicate in document.keep.attributes:
        value = predicate.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if predicate.attribute in _STATUS_ATTRIBUTES and predicate.op in ("gte", "gt"):
            threshold = int(value) + (1 if predicate.op == "gt" else 0)
            keep["status_gte"] = min(keep.get("status_gte", threshold), threshold)
        elif predicate.attribute in _LATENCY_ATTRIBUTES and predicate.op in ("gt", "gte"):
            threshold = int(value) - (1 if predicate.op == "gte" else 0)
            keep["latency_ms_gt"] = min(keep.get("latency_ms_gt", threshold), threshold)
    return keep


def policy_to_drop_rules(
    document: PolicyDocument, *, pattern_severities: Mapping[str, Mapping[str, int]] | None = None
) -> list[dict[str, Any]]:
    """`pattern_severities` (pattern id → severity counts) proves a pattern error-free; unknown means no path drop."""
    service = document.service
    config: dict[str, Any] = {"actions": {bucket: {"type": "keep"} for bucket in POSTHOG_BUCKETS}}
    always_keep = _always_keep(document)
    if always_keep:
        config["always_keep"] = always_keep
    rules: list[dict[str, Any]] = []
    keep_leaves = _keep_leaves(document)
    if keep_leaves is None:
        return [_severity_rule(service, config)]
    guard = never_error_leaves() + keep_leaves
    known = pattern_severities or {}
    dead = []
    for rule in document.patterns:
        counts = known.get(rule.id)
        if rule.rate > 0.0 or counts is None:
            continue
        if int(counts.get("ERROR", 0)) + int(counts.get("FATAL", 0)) > 0:
            continue
        dead.append((-sum(int(n) for n in counts.values()), rule.id, rule))
    for _, _, rule in sorted(dead, key=lambda item: item[:2])[:MAX_PATH_DROPS]:
        rules.append(
            {
                "name": path_drop_rule_name(service, rule.id),
                "enabled": True,
                "priority": PATH_DROP_PRIORITY + len(rules),
                "rule_type": "path_drop",
                "scope_service": service,
                "scope_path_pattern": None,
                "scope_attribute_filters": [],
                "config": {
                    "filter_group": {
                        "type": "AND",
                        "values": [
                            {
                                "key": "message",
                                "type": "log",
                                "operator": "regex",
                                "value": template_to_raw_regex(rule.template),
                            },
                            *guard,
                        ],
                    }
                },
            }
        )
    dead_severities = [
        name
        for bucket in ("DEBUG", "INFO", "WARN")
        if _bucket_rate(document, bucket) <= 0.0
        for name in POSTHOG_BUCKETS[bucket]
    ]
    if dead_severities:
        words = [word for word, name in SPELLINGS.items() if name in dead_severities]
        rules.append(
            {
                "name": bucket_drop_rule_name(service),
                "enabled": True,
                "priority": BUCKET_DROP_PRIORITY,
                "rule_type": "path_drop",
                "scope_service": service,
                "scope_path_pattern": None,
                "scope_attribute_filters": [],
                "config": {
                    "filter_group": {
                        "type": "AND",
                        "values": [
                            {"key": "severity_text", "type": "log", "operator": "regex", "value": _words_regex(words)},
                            *guard,
                        ],
                    }
                },
            }
        )
    rules.append(_severity_rule(service, config))
    return rules


def _severity_rule(service: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": severity_rule_name(service),
        "enabled": True,
        "priority": SEVERITY_PRIORITY,
        "rule_type": "severity_sampling",
        "scope_service": service,
        "scope_path_pattern": None,
        "scope_attribute_filters": [],
        "config": config,
    }
