"""Rule-based incident explanations, and the PostHog logs link for the incident's window."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

LINK_MARGIN = timedelta(minutes=15)
# A Python traceback's template is mostly frames; its last line (the exception) is what a reader needs.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*\bin \S+\s+(?P<exception>\S.*)$", re.DOTALL)


def headline(template: str, limit: int = 120) -> str:
    """The part of a template worth showing: the exception line of a traceback, else the start of the template."""
    found = _TRACEBACK.match(template.strip())
    text = found.group("exception").strip() if found else template.strip()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class MovedPattern:
    pattern: str
    template: str
    severity: str
    kind: str
    observed: float
    expected: float

    @property
    def change(self) -> str:
        if self.expected <= 0:
            return f"new: {self.observed:,.0f} lines/h where there were none"
        return f"{self.observed:,.0f} lines/h vs {self.expected:,.0f} expected (x{self.observed / self.expected:.1f})"


@dataclass(frozen=True)
class IncidentFacts:
    service: str
    start: datetime
    end: datetime
    severity: str
    patterns: tuple[MovedPattern, ...]


@dataclass(frozen=True)
class Explanation:
    summary: str
    what_changed: tuple[str, ...]
    when: str
    moved_together: tuple[str, ...]
    likely_causes: tuple[str, ...]
    debugging_steps: tuple[str, ...]
    logs_url: str
    generated_by: str = "rules"
    fallback_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "what_changed": list(self.what_changed),
            "when": self.when,
            "moved_together": list(self.moved_together),
            "likely_causes": list(self.likely_causes),
            "debugging_steps": list(self.debugging_steps),
            "logs_url": self.logs_url,
            "generated_by": self.generated_by,
            "fallback_reason": self.fallback_reason,
        }


# (what in a template, the likely cause, a first debugging step)
_CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"time(d)?[ _-]?out|did not answer|deadline", re.I),
        "A dependency is slow or unreachable (timeouts).",
        "Check the latency and health of the upstream named in the timeout lines, and recent deploys there.",
    ),
    (
        re.compile(r"connection ?(reset|refused)|ECONNRESET|broken pipe|\b50[234]\b", re.I),
        "Network or upstream failures (connections reset, 5xx from a gateway).",
        "Look for 502/503/504 responses and connection resets by host; check load balancers and the provider's status.",
    ),
    (
        re.compile(r"retry|retrying|attempt=", re.I),
        "Retries are amplifying a failure: each failed call logs again.",
        "Check retry budgets and backoff; a retry storm can keep a struggling dependency down.",
    ),
    (
        re.compile(r"circuit|data too large|out of memory|OOM|heap", re.I),
        "Memory pressure: circuit breakers or out-of-memory conditions.",
        "Inspect memory and GC metrics of the nodes named in the lines; look for one unusually large request.",
    ),
    (
        re.compile(r"lock|deadlock|could not obtain", re.I),
        "Database contention (locks, deadlocks).",
        "List long-running transactions and lock waits in the database at the incident's start.",
    ),
    (
        re.compile(r"slow|latency|took=|above SLO", re.I),
        "Latency regression.",
        "Compare p95 latency before and during the window; check for a deploy or a traffic shift at its start.",
    ),
    (
        re.compile(r"denied|unauthori[sz]ed|forbidden|\b401\b|\b403\b|token expired", re.I),
        "Authentication or permission failures.",
        "Check credential rotation and expiry for the caller named in the lines.",
    ),
)


def logs_url(*, host: str, project_id: str, service: str, start: datetime, end: datetime) -> str:
    """A link to PostHog's logs view for the window, with a margin on both sides.

    Shape (documented, not a stable PostHog contract): `{host}/project/{id}/logs?dateRange={"date_from": ISO,
    "date_to": ISO}&serviceNames=["svc"]`, the JSON values URL-encoded, mirroring the Logs query API's
    `dateRange` and `serviceNames` fields. An empty project id gives `/project/<id>` so the gap is visible.
    """
    date_range = {
        "date_from": (start - LINK_MARGIN).isoformat(timespec="seconds"),
        "date_to": (end + LINK_MARGIN).isoformat(timespec="seconds"),
    }
    query = urlencode(
        {
            "dateRange": json.dumps(date_range, separators=(",", ":")),
            "serviceNames": json.dumps([service], separators=(",", ":")),
        }
    )
    return f"{host.rstrip('/')}/project/{project_id or '<id>'}/logs?{query}"


def explain_rules(facts: IncidentFacts, *, url: str) -> Explanation:
    """What changed, when, what moved together, likely causes from templates and severities, steps to take."""
    moved = sorted(facts.patterns, key=lambda p: (-(p.observed - p.expected), p.pattern))
    changed = tuple(f"{headline(p.template)} [{p.severity}]: {p.change}" for p in moved)
    minutes = max(1, int((facts.end - facts.start).total_seconds() // 60))
    when = f"{facts.start:%Y-%m-%d %H:%M} to {facts.end:%H:%M} UTC ({minutes} min)"
    together = tuple(headline(p.template) for p in moved) if len(moved) > 1 else ()
    causes: list[str] = []
    steps: list[str] = []
    text = "\n".join(p.template for p in moved)
    for pattern, cause, step in _CAUSES:
        if pattern.search(text):
            causes.append(cause)
            steps.append(step)
    errors = [p for p in moved if p.severity in {"ERROR", "FATAL"}]
    if errors and not causes:
        causes.append("New or more frequent errors; the first error pattern below is the best lead.")
    if any(p.kind == "drop" for p in moved):
        causes.append("A pattern fell below its baseline: a component may have stopped, or traffic moved elsewhere.")
        steps.append("Check that every instance of the service is running and receiving traffic.")
    if any(p.kind == "new_pattern" for p in moved):
        causes.append("A pattern never seen before appeared: new code paths or a new failure mode.")
    steps.append("Open the PostHog logs for the window (link) and read the first lines of each pattern above.")
    steps.append("Compare with the deploy and configuration history just before the start time.")
    lead = errors[0] if errors else (moved[0] if moved else None)
    summary = f"{facts.severity.upper()}: {len(moved)} pattern(s) of {facts.service} moved together {when}" + (
        f"; most affected: {lead.template[:100]!r}" if lead else ""
    )
    return Explanation(
        summary=summary,
        what_changed=changed,
        when=when,
        moved_together=together,
        likely_causes=tuple(causes) or ("No known signature; see the patterns that moved.",),
        debugging_steps=tuple(steps),
        logs_url=url,
    )


def explanation_prompt(facts: IncidentFacts, *, redact: Any) -> tuple[str, str]:
    """System and user prompts for an LLM explanation; `redact` is applied to every template sent."""
    system = (
        "You explain log anomalies to an on-call engineer. Answer with one JSON object with exactly the keys "
        '"summary" (one sentence), "likely_causes" (list of short strings) and "debugging_steps" (list of short '
        "strings). Use only the facts given."
    )
    facts_json: list[dict[str, Any]] = [
        {
            "template": redact(p.template[:300]),
            "severity": p.severity,
            "kind": p.kind,
            "observed_per_hour": round(p.observed, 1),
            "expected_per_hour": round(p.expected, 1),
        }
        for p in facts.patterns[:20]
    ]
    user = json.dumps(
        {
            "service": redact(facts.service),
            "window_utc": [facts.start.isoformat(), facts.end.isoformat()],
            "severity": facts.severity,
            "patterns": facts_json,
        },
        indent=1,
    )
    return system, user


def parse_llm_explanation(text: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Strict parse of the model's answer; raises ValueError on anything but the three expected keys."""
    body = text.strip()
    fenced = re.match(r"^```(?:json)?\s*\n(.*)\n\s*```$", body, re.DOTALL)
    data = json.loads(fenced.group(1) if fenced else body)
    if not isinstance(data, dict) or set(data) != {"summary", "likely_causes", "debugging_steps"}:
        raise ValueError("expected exactly summary, likely_causes and debugging_steps")
    summary = data["summary"]
    causes = data["likely_causes"]
    steps = data["debugging_steps"]
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError("summary must be a non-empty string")
    for name, items in (("likely_causes", causes), ("debugging_steps", steps)):
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"{name} must be a list of strings")
    return summary.strip()[:500], tuple(i[:300] for i in causes[:8]), tuple(i[:300] for i in steps[:8])


def merge_llm(
    rules: Explanation, answer: tuple[str, Sequence[str], Sequence[str]], *, generated_by: str
) -> Explanation:
    summary, causes, steps = answer
    return Explanation(
        summary=summary,
        what_changed=rules.what_changed,
        when=rules.when,
        moved_together=rules.moved_together,
        likely_causes=tuple(causes) or rules.likely_causes,
        debugging_steps=tuple(steps) or rules.debugging_steps,
        logs_url=rules.logs_url,
        generated_by=generated_by,
    )
