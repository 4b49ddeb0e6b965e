"""The deterministic safety checker every policy passes before it ships, whoever (rules, an LLM, a user) wrote it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lipservice_sdk.policy import PolicyDocument, PolicyFormatError, PolicyIssue, policy_from_dict, policy_to_dict
from lipservice_sdk.severity import ALWAYS_KEPT
from lipservice_sdk.signature import template_matches

from patterns.engine.redaction import REDACTED
from policies.engine.stats import PatternStats

GENERATED_BY = re.compile(r"rules|llm:[^:]+:.+|user:.+")
_PLACEHOLDER = re.compile(r"<(?:\*|UUID|TS|MAC|IP|EMAIL|HEX|NUM|ID|STR)>")


def is_catch_all(template: str) -> bool:
    """No literal token: nothing but placeholders, wildcards and punctuation, so it covers lines of any kind."""
    return not any(re.search(r"[A-Za-z0-9]", _PLACEHOLDER.sub("", token)) for token in template.split())


@dataclass(frozen=True)
class Limits:
    max_patterns: int = 5_000
    max_signatures_per_pattern: int = 1_000
    max_template_length: int = 2_000
    max_reason_length: int = 1_000
    max_reasoning_length: int = 10_000
    rare_floor: int = 10


class PolicyInvariantError(ValueError):
    """A policy that must not ship; `errors` lists every broken invariant as `{path, code, message}`."""

    def __init__(self, issues: Sequence[PolicyIssue]) -> None:
        self.issues: tuple[PolicyIssue, ...] = tuple(issues)
        self.errors: list[dict[str, str]] = [issue.as_dict() for issue in self.issues]
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in self.issues) or "policy breaks an invariant")


def find_violations(
    document: PolicyDocument | Mapping[str, Any],
    *,
    stats: Sequence[PatternStats] = (),
    limits: Limits | None = None,
) -> list[PolicyIssue]:
    """Every broken invariant, in document order; an empty list means the policy is safe to ship."""
    limits = limits or Limits()
    if isinstance(document, PolicyDocument):
        parsed = document
        issues: list[PolicyIssue] = _format_issues(policy_to_dict(document))
    else:
        try:
            parsed = policy_from_dict(document)
            issues = []
        except PolicyFormatError as exc:
            return list(exc.issues)
    return issues + _invariants(parsed, stats=stats, limits=limits)


def check_invariants(
    document: PolicyDocument | Mapping[str, Any],
    *,
    stats: Sequence[PatternStats] = (),
    limits: Limits | None = None,
) -> PolicyDocument:
    """Return the parsed document, or raise PolicyInvariantError with every violation."""
    issues = find_violations(document, stats=stats, limits=limits)
    if issues:
        raise PolicyInvariantError(issues)
    return document if isinstance(document, PolicyDocument) else policy_from_dict(document)


def _format_issues(data: dict[str, Any]) -> list[PolicyIssue]:
    """A dataclass built in code bypasses parsing, so round-trip it to catch out-of-range values."""
    try:
        policy_from_dict(data)
    except PolicyFormatError as exc:
        return list(exc.issues)
    return []


def _invariants(policy: PolicyDocument, *, stats: Sequence[PatternStats], limits: Limits) -> list[PolicyIssue]:
    issues: list[PolicyIssue] = []
    for name in sorted(ALWAYS_KEPT):
        rate = policy.severity_rates.get(name, 1.0)
        if rate != 1.0:
            issues.append(
                PolicyIssue(f"$.severity_rates.{name}", "error_rate", f"{name} lines are always kept: rate must be 1.0")
            )
    if not GENERATED_BY.fullmatch(policy.generated_by):
        issues.append(
            PolicyIssue(
                "$.generated_by", "generated_by", "generated_by must be rules, llm:<provider>:<model> or user:<name>"
            )
        )
    if not policy.keep.first_per_pattern:
        issues.append(
            PolicyIssue("$.keep.first_per_pattern", "first_per_pattern", "the first line of every pattern is kept")
        )
    if len(policy.reasoning) > limits.max_reasoning_length:
        issues.append(
            PolicyIssue("$.reasoning", "too_long", f"reasoning is longer than {limits.max_reasoning_length} characters")
        )
    if len(policy.patterns) > limits.max_patterns:
        issues.append(PolicyIssue("$.patterns", "too_many", f"more than {limits.max_patterns} patterns"))
    by_id = {s.id: s for s in stats}
    for index, rule in enumerate(policy.patterns):
        path = f"$.patterns[{index}]"
        if not rule.id:
            issues.append(PolicyIssue(f"{path}.id", "empty", "pattern id must not be empty"))
        if len(rule.template) > limits.max_template_length:
            issues.append(
                PolicyIssue(f"{path}.template", "too_long", f"template longer than {limits.max_template_length}")
            )
        if len(rule.signatures) > limits.max_signatures_per_pattern:
            issues.append(
                PolicyIssue(
                    f"{path}.signatures", "too_many", f"more than {limits.max_signatures_per_pattern} signatures"
                )
            )
        if len(rule.reason) > limits.max_reason_length:
            issues.append(PolicyIssue(f"{path}.reason", "too_long", f"reason longer than {limits.max_reason_length}"))
        seen = by_id.get(rule.id)
        machine = policy.generated_by.startswith("llm:")
        if machine and is_catch_all(rule.template):
            issues.append(
                PolicyIssue(
                    f"{path}.template", "catch_all", "a template with no literal token is for a person to write"
                )
            )
        if seen is None:
            if machine and stats:
                issues.append(PolicyIssue(f"{path}.id", "unknown_pattern", f"no mined pattern with id {rule.id!r}"))
            continue
        foreign = [sig for sig in rule.signatures if sig not in set(seen.signatures)]
        if foreign and seen.signatures:
            issues.append(
                PolicyIssue(
                    f"{path}.signatures",
                    "foreign_signature",
                    f"{len(foreign)} signature(s) not seen in pattern {rule.id}, e.g. {foreign[0][:40]!r}",
                )
            )
        if seen.count < limits.rare_floor and rule.rate < 1.0:
            issues.append(
                PolicyIssue(
                    f"{path}.rate",
                    "rare_pattern",
                    f"pattern {rule.id} has {seen.count} lines, under the rare floor of {limits.rare_floor}: "
                    "rate must be 1.0",
                )
            )
        if len(rule.template) <= limits.max_template_length:
            for example in seen.examples:
                # A redacted example (`<EMAIL>` where an address was) may not match the template any more.
                if not template_matches(rule.template, example) and not REDACTED.search(example):
                    issues.append(
                        PolicyIssue(
                            f"{path}.template",
                            "template_mismatch",
                            f"template does not match its own example {example[:120]!r}",
                        )
                    )
                    break
    return issues
