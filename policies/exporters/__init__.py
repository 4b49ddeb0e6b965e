"""Exporters of a `lipservice.policy/v1` document: SDK JSON, PostHog drop rules, the Hog `transformation_log`."""

from __future__ import annotations

from policies.exporters.drop_rules import DROP_RULE_PREFIX, policy_to_drop_rules
from policies.exporters.hog import (
    HOG_FUNCTION_NAME,
    hog_function_body,
    hog_source,
    hog_template,
    policy_to_hog_policy,
    template_to_raw_regex,
)
from policies.exporters.sdk import policy_to_sdk_json

__all__ = [
    "DROP_RULE_PREFIX",
    "HOG_FUNCTION_NAME",
    "hog_function_body",
    "hog_source",
    "hog_template",
    "policy_to_drop_rules",
    "policy_to_hog_policy",
    "policy_to_sdk_json",
    "template_to_raw_regex",
]
