"""Why an incident happened: the rule-based explanation, then the LLM's, redacted before it is stored."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from insights.engine.explain import (
    Explanation,
    IncidentFacts,
    MovedPattern,
    explain_rules,
    explanation_prompt,
    logs_url,
    merge_llm,
    parse_llm_explanation,
)
from insights.models import Anomaly, Incident
from insights.selectors import pattern_dominant_severity
from patterns.engine.redaction import redact
from policies.engine.llm.config import LLMConfig
from policies.engine.llm.providers import LLMError, LLMProvider, provider_from_config

if TYPE_CHECKING:
    from patterns.models import Pattern


logger = logging.getLogger(__name__)


def _facts(incident: Incident, members: Sequence[Anomaly]) -> IncidentFacts:
    moved: dict[str, MovedPattern] = {}
    for anomaly in members:
        pattern = anomaly.pattern
        key = f"{pattern.pattern_id if pattern else '-'}:{anomaly.kind}"
        moved[key] = MovedPattern(
            pattern=pattern.pattern_id if pattern else "",
            template=pattern.template if pattern else f"(service-wide {anomaly.kind})",
            severity=_dominant_or_error(pattern),
            kind=anomaly.kind,
            observed=anomaly.observed,
            expected=anomaly.expected,
        )
    return IncidentFacts(
        service=incident.service.name,
        start=incident.window_start,
        end=incident.window_end,
        severity=incident.severity,
        patterns=tuple(moved.values()),
    )


def _dominant_or_error(pattern: Pattern | None) -> str:
    if pattern is None:
        return "INFO"
    return (
        "ERROR"
        if pattern.error_count and pattern.error_count * 2 >= pattern.count
        else pattern_dominant_severity(pattern)
    )


def incident_explain(
    *,
    incident: Incident,
    members: Sequence[Anomaly] | None = None,
    provider: LLMProvider | None = None,
    use_llm: bool = True,
) -> Explanation:
    """Rules by default; with an LLM configured (or a provider given), its answer over redacted facts, falling back
    to the rules on any failure with the reason recorded, as policy generation does."""
    rows = list(members) if members is not None else list(incident.anomalies.select_related("pattern"))
    facts = _facts(incident, rows)
    team = incident.team
    url = logs_url(
        host=team.posthog_host,
        project_id=team.posthog_project_id,
        service=incident.service.name,
        start=incident.window_start,
        end=incident.window_end,
    )
    rules = explain_rules(facts, url=url)
    config = LLMConfig.from_settings(settings)
    if not use_llm or (provider is None and config.provider == "rules"):
        return rules
    try:
        llm = provider or provider_from_config(config)
        system, user = explanation_prompt(facts, redact=redact)
        answer = parse_llm_explanation(llm.complete(system=system, user=user))
        return merge_llm(rules, answer, generated_by=f"llm:{llm.name}:{llm.model}")
    except LLMError as exc:
        reason = f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
    except ValueError as exc:
        reason = f"invalid_answer: {exc}"
    except Exception as exc:  # an explanation must never break a scan or an alert
        reason = f"unexpected: {type(exc).__name__}: {exc}"
    logger.warning("LLM explanation fell back to rules: %s", reason)
    return replace(rules, fallback_reason=reason[:500])


def incident_explain_with_llm(*, incident_id: int, provider: LLMProvider | None = None) -> bool:
    """Replace the rules explanation by the LLM's when one is configured (or given); False when nothing changed."""
    if provider is None and LLMConfig.from_settings(settings).provider == "rules":
        return False
    incident = Incident.objects.select_related("service", "team").get(pk=incident_id)
    explanation = explanation_redacted(incident_explain(incident=incident, provider=provider).as_dict())
    Incident.objects.filter(pk=incident_id).update(
        explanation=explanation, title=str(explanation["summary"])[:500], updated_at=timezone.now()
    )
    return True


_EXPLANATION_TEXTS = ("summary", "what_changed", "when", "moved_together", "likely_causes", "debugging_steps")


def explanation_redacted(explanation: dict[str, Any]) -> dict[str, Any]:
    """An explanation as stored: its texts (which quote templates, or a model's words) pass the one redaction."""
    result = dict(explanation)
    for key in _EXPLANATION_TEXTS:
        value = result.get(key)
        if isinstance(value, str):
            result[key] = redact(value)
        elif isinstance(value, list):
            result[key] = [redact(item) if isinstance(item, str) else item for item in value]
    return result
