"""Template-key SQL generated from the SDK's MASKING_RULES, so pushed-down keys equal `template_key` byte for byte."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from lipservice_sdk.signature import MASKING_RULES, MAX_MESSAGE_CHARS, MaskingRule, template_key

_PYTHON_ONLY_REPLACEMENT = re.compile(r"\\g<|\\[a-fh-zA-Z]")
_PYTHON_ONLY_PATTERN = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]|\\[dDwWsSbB]|\\[uUN]")


@dataclasses.dataclass(frozen=True, slots=True)
class RuleIssue:
    rule: str
    problem: str


def template_key_of(body: str) -> str:
    return str(template_key(body))


def clickhouse_replacement(placeholder: str) -> str:
    """Python re.sub and ClickHouse replaceRegexpAll agree on `\\1`..`\\9`; a literal backslash would need `\\\\`."""
    if _PYTHON_ONLY_REPLACEMENT.search(placeholder):
        raise ValueError(f"placeholder {placeholder!r} uses re.sub syntax ClickHouse does not have")
    return placeholder


def rule_issues(rules: Sequence[MaskingRule] = MASKING_RULES) -> list[RuleIssue]:
    """Constructs that RE2 (ClickHouse, HogQL) rejects or reads differently from Python's re."""
    import re2

    issues: list[RuleIssue] = []
    for rule in rules:
        try:
            compiled = re2.compile(rule.pattern)
        except re2.error as exc:
            issues.append(RuleIssue(rule.name, f"RE2 cannot compile it: {exc}"))
            continue
        if _PYTHON_ONLY_PATTERN.search(rule.pattern):
            issues.append(RuleIssue(rule.name, "uses a class or escape whose meaning differs between re and RE2"))
        if compiled.fullmatch("") is not None:
            # ClickHouse 18.16's replaceRegexpAll handles empty matches differently from re.sub.
            issues.append(RuleIssue(rule.name, "can match the empty string"))
        try:
            clickhouse_replacement(rule.placeholder)
        except ValueError as exc:
            issues.append(RuleIssue(rule.name, str(exc)))
    return issues


def _key_expression(
    column: str, rules: Sequence[MaskingRule], prefix: str, slot: Callable[[str], str]
) -> tuple[str, dict[str, str | int]]:
    """The rule chain as nested `replaceRegexpAll` calls; `slot(name)` writes a query parameter's placeholder, so
    patterns travel as values, never as SQL text."""
    expression = f"substringUTF8({column}, 1, {slot(f'{prefix}_max_chars')})"
    values: dict[str, str | int] = {f"{prefix}_max_chars": MAX_MESSAGE_CHARS}
    for index, rule in enumerate(rules):
        pattern_name, replacement_name = f"{prefix}_re_{index}", f"{prefix}_to_{index}"
        expression = f"replaceRegexpAll({expression}, {slot(pattern_name)}, {slot(replacement_name)})"
        values[pattern_name] = rule.pattern
        values[replacement_name] = clickhouse_replacement(rule.placeholder)
    return expression, values


def clickhouse_key_expression(
    *, column: str, rules: Sequence[MaskingRule] = MASKING_RULES, prefix: str = "mask"
) -> tuple[str, dict[str, str | int]]:
    """The chain with clickhouse-driver `%(name)s` params."""
    return _key_expression(column, rules, prefix, lambda name: f"%({name})s")


def hogql_key_expression(
    *, column: str, rules: Sequence[MaskingRule] = MASKING_RULES, prefix: str = "mask"
) -> tuple[str, dict[str, str | int]]:
    """The same chain for HogQL, with `{name}` placeholders filled from the query's `values`."""
    return _key_expression(column, rules, prefix, lambda name: "{" + name + "}")
