"""Asks an LLM for a policy and keeps it only if it parses and passes the checker; otherwise the rule-based policy."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lipservice_sdk.policy import PolicyDocument, PolicyIssue, policy_from_dict

from policies.engine.checker import find_violations
from policies.engine.llm.config import LLMConfig
from policies.engine.llm.prompt import Prompt, build_prompt
from policies.engine.llm.providers import LLMError, LLMProvider, provider_from_config
from policies.engine.rules import RuleConfig, Target, estimate_reduction, generate_rule_policy, reduction_for
from policies.engine.stats import PatternStats

ANSWER_FIELDS = ("reasoning", "default_rate", "severity_rates", "patterns")
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class GenerationResult:
    document: PolicyDocument
    generated_by: str
    fallback_reason: str | None
    reasoning: str
    attempted: str = ""
    model_reasoning: str | None = None
    prompt_patterns: int = 0
    prompt_tokens: int = 0

    @property
    def used_fallback(self) -> bool:
        return self.fallback_reason is not None


class AnswerError(ValueError):
    def __init__(self, reason: str, issues: Sequence[PolicyIssue] = ()) -> None:
        self.reason = reason
        self.issues = tuple(issues)
        super().__init__(reason)


def generate_policy(
    *,
    service: str,
    stats: Sequence[PatternStats],
    target: Target,
    config: LLMConfig,
    rule_config: RuleConfig | None = None,
    provider: LLMProvider | None = None,
    generated_at: datetime | None = None,
) -> GenerationResult:
    """The configured provider's policy, or the rule-based one with `fallback_reason` saying why. Never raises."""
    rule_config = rule_config or RuleConfig()
    now = generated_at or datetime.now(UTC)
    rules = generate_rule_policy(service=service, stats=stats, target=target, config=rule_config, generated_at=now)
    if config.provider == "rules" and provider is None:
        return GenerationResult(document=rules, generated_by="rules", fallback_reason=None, reasoning=rules.reasoning)
    prompt: Prompt | None = None
    attempted = f"llm:{config.provider}:{config.model_name}"
    model_reasoning: str | None = None
    try:
        provider = provider or provider_from_config(config)
        attempted = f"llm:{provider.name}:{provider.model}"
        total = sum(s.bytes for s in stats)
        prompt = build_prompt(
            service=service,
            stats=stats,
            suggested={p.id: p.rate for p in rules.patterns},
            target=reduction_for(target, total_bytes=total),
            expected=estimate_reduction(policy=rules, stats=stats, config=rule_config),
            rare_floor=rule_config.limits.rare_floor,
            max_tokens=config.max_prompt_tokens,
        )
        text = provider.complete(system=prompt.system, user=prompt.user)
        answer = parse_answer(text)
        if isinstance(answer.get("reasoning"), str):
            model_reasoning = answer["reasoning"][: rule_config.limits.max_reasoning_length]
        merged = merge_answer(rules, answer)
        violations = find_violations(merged, stats=stats, limits=rule_config.limits)
        if violations:
            raise AnswerError("invariant", violations)
        document = replace(policy_from_dict(merged), generated_by=attempted).with_etag()
        return GenerationResult(
            document=document,
            generated_by=attempted,
            fallback_reason=None,
            reasoning=document.reasoning,
            attempted=attempted,
            model_reasoning=model_reasoning,
            prompt_patterns=len(prompt.pattern_ids),
            prompt_tokens=prompt.estimated_tokens,
        )
    except LLMError as exc:
        reason = f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
    except AnswerError as exc:
        details = "; ".join(f"{i.path} {i.code}: {i.message}" for i in exc.issues[:5])
        reason = f"{exc.reason}: {details}" if details else exc.reason
    except Exception as exc:  # any failure at all must end in the rule-based policy
        reason = f"unexpected: {type(exc).__name__}: {exc}"
    return GenerationResult(
        document=rules,
        generated_by="rules",
        fallback_reason=reason[:1000],
        reasoning=rules.reasoning,
        attempted=attempted,
        model_reasoning=model_reasoning,
        prompt_patterns=len(prompt.pattern_ids) if prompt else 0,
        prompt_tokens=prompt.estimated_tokens if prompt else 0,
    )


def parse_answer(text: str) -> dict[str, Any]:
    """Strict: one JSON object (optionally in a single ```json fence), only the fields the prompt asked for."""
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise AnswerError(f"invalid_json: {exc}") from exc
    if not isinstance(data, dict):
        raise AnswerError("invalid_json: the answer is not a JSON object")
    answer: dict[str, Any] = data
    unknown = [key for key in answer if key not in ANSWER_FIELDS]
    if unknown:
        issues = [PolicyIssue(f"$.{key}", "unknown_field", f"unknown field {key!r}") for key in unknown]
        raise AnswerError("invalid_answer", issues)
    return answer


ANSWER_PATTERN_FIELDS = frozenset({"rate", "reason"})


def merge_answer(rules: PolicyDocument, answer: dict[str, Any]) -> dict[str, Any]:
    """Lay the model's rates and reasons over the rule-based document; the raw values go to the checker unaltered."""
    document: dict[str, Any] = copy.deepcopy(rules.to_dict())
    index = {pattern["id"]: pattern for pattern in document["patterns"]}
    issues: list[PolicyIssue] = []
    if "severity_rates" in answer:
        rates = answer["severity_rates"]
        if isinstance(rates, dict):
            document["severity_rates"] = {**document["severity_rates"], **rates}
        else:
            document["severity_rates"] = rates
    if "default_rate" in answer:
        document["default_rate"] = answer["default_rate"]
    if "reasoning" in answer:
        document["reasoning"] = answer["reasoning"]
    patterns = answer.get("patterns", [])
    if not isinstance(patterns, list):
        raise AnswerError("invalid_answer", [PolicyIssue("$.patterns", "type", "patterns must be a list")])
    for position, item in enumerate(patterns):
        path = f"$.patterns[{position}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            issues.append(PolicyIssue(path, "type", "each pattern needs a string id"))
            continue
        target = index.get(item["id"])
        if target is None:
            issues.append(PolicyIssue(f"{path}.id", "unknown_pattern", f"no pattern with id {item['id']!r}"))
            continue
        for key, value in item.items():
            if key in ANSWER_PATTERN_FIELDS:
                target[key] = value
            elif key != "id":
                # Templates, signatures and ids come from the miner: an answer that rewrites them is refused whole.
                issues.append(PolicyIssue(f"{path}.{key}", "not_allowed", "a model may change rate and reason only"))
    if issues:
        raise AnswerError("invalid_answer", issues)
    return document
