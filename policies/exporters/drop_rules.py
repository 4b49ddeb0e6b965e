"""Policy → PostHog drop rules (`/logs/sampling_rules/`): one severity rule per service, path drops for dead patterns.

Drop rules cannot see patterns, so the severity rule samples each bucket at the highest rate any line of that
bucket may need under the policy (it never drops what the policy would keep); the per-pattern cut is the Hog
transformation's job. ERROR is always `keep`. A `path_drop` is emitted only for a pattern at rate 0 whose counted
history has no ERROR or FATAL line, and it is restricted to non-error severities as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lipservice_sdk.policy import PolicyDocument

from policies.exporters.hog import template_to_raw_regex

DROP_RULE_PREFIX = "lipservice"
SEVERITY_PRIORITY = 100
PATH_DROP_PRIORITY = 10
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


def _action(rate: float) -> dict[str, Any]:
    if rate >= 1.0:
        return {"type": "keep"}
    if rate <= 0.0:
        return {"type": "drop"}
    return {"type": "sample", "rate": round(rate, 6)}


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
    actions = {bucket: _action(_bucket_rate(document, bucket)) for bucket in POSTHOG_BUCKETS}
    actions["ERROR"] = {"type": "keep"}
    config: dict[str, Any] = {"actions": actions}
    always_keep = _always_keep(document)
    if always_keep:
        config["always_keep"] = always_keep
    rules: list[dict[str, Any]] = []
    known = pattern_severities or {}
    for rule in document.patterns:
        counts = known.get(rule.id)
        if rule.rate > 0.0 or counts is None:
            continue
        if int(counts.get("ERROR", 0)) + int(counts.get("FATAL", 0)) > 0:
            continue
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
                            {"key": "severity_text", "type": "log", "operator": "is_not", "value": ["error", "fatal"]},
                        ],
                    }
                },
            }
        )
    rules.append(
        {
            "name": severity_rule_name(service),
            "enabled": True,
            "priority": SEVERITY_PRIORITY,
            "rule_type": "severity_sampling",
            "scope_service": service,
            "scope_path_pattern": None,
            "scope_attribute_filters": [],
            "config": config,
        }
    )
    return rules
