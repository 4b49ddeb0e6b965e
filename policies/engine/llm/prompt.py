"""Builds the prompt from the template files: redacted pattern summaries, largest first, cut to a token budget."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from patterns.engine.redaction import redact
from policies.engine.stats import PatternStats

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
SYSTEM_FILE = "policy_system.txt"
USER_FILE = "policy_user.txt"
CHARS_PER_TOKEN = 3.5  # a conservative average for English text mixed with log tokens
MAX_TEMPLATE_CHARS = 300
MAX_EXAMPLE_CHARS = 200


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    pattern_ids: tuple[str, ...]
    omitted: int

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self.system) + estimate_tokens(self.user)


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def load_template(name: str) -> str:
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def build_prompt(
    *,
    service: str,
    stats: Sequence[PatternStats],
    suggested: Mapping[str, float],
    target: float,
    expected: float,
    rare_floor: int,
    max_tokens: int,
) -> Prompt:
    """Every string that leaves the process passes through `redact` here."""
    system = load_template(SYSTEM_FILE)
    user_template = Template(load_template(USER_FILE))
    total_bytes = sum(s.bytes for s in stats) or 1
    ordered = sorted(stats, key=lambda s: (-s.bytes, s.id))
    lines = [_summary(s, suggested.get(s.id, 1.0), total_bytes, rare_floor) for s in ordered]

    def render(count: int) -> str:
        left = len(lines) - count
        omitted = (
            f"{left} smaller patterns are not listed (token budget); they keep their suggested rates." if left else ""
        )
        return user_template.substitute(
            service=redact(service),
            target_percent=f"{target * 100:.0f}",
            rules_percent=f"{expected * 100:.0f}",
            total_lines=sum(s.count for s in stats),
            total_bytes=total_bytes,
            pattern_count=len(stats),
            omitted=omitted,
            patterns="\n".join(lines[:count]),
        )

    budget = max_tokens - estimate_tokens(system)
    count = len(lines)
    while count > 0 and estimate_tokens(render(count)) > budget:
        # Cut in proportion to the overshoot so long lists converge in a few renders.
        overshoot = estimate_tokens(render(count)) / max(budget, 1)
        count = min(count - 1, int(count / overshoot))
    return Prompt(system, render(max(count, 0)), tuple(s.id for s in ordered[: max(count, 0)]), len(lines) - count)


def _summary(stats: PatternStats, suggested: float, total_bytes: int, rare_floor: int) -> str:
    example = stats.examples[0] if stats.examples else ""
    return json.dumps(
        {
            "id": stats.id,
            "template": redact(stats.template[:MAX_TEMPLATE_CHARS]),
            "example": redact(example[:MAX_EXAMPLE_CHARS]),
            "lines": stats.count,
            "share": round(stats.bytes / total_bytes, 4),
            "severity": {k: v for k, v in stats.severity_counts.items() if v},
            "rare": stats.count < rare_floor,
            "suggested_rate": suggested,
        },
        ensure_ascii=False,
    )
