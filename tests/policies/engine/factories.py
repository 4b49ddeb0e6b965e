"""Small builders of pattern stats and records for the policy engine tests."""

from __future__ import annotations

from policies.engine.simulator import ReplayLine
from policies.engine.stats import PatternStats


def stats(
    pattern_id: str,
    template: str,
    count: int,
    *,
    severity: str = "INFO",
    errors: int = 0,
    line_bytes: int = 100,
    examples: tuple[str, ...] = (),
) -> PatternStats:
    severities = {severity: count - errors} if count > errors else {}
    if errors:
        severities["ERROR"] = errors
    return PatternStats(
        id=pattern_id,
        template=template,
        count=count,
        bytes=count * line_bytes,
        severity_counts=severities,
        examples=examples,
    )


def records(message: str, count: int, *, severity: str = "INFO", start: int = 0) -> list[ReplayLine]:
    return [
        ReplayLine(message=message.format(i=i), severity=severity, line_id=start + i, bytes=100) for i in range(count)
    ]
