"""Replays log records through the policy decision and reports what would be kept, lost and paid."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from lipservice_sdk.decision import (
    ATTRIBUTE,
    ERROR_CONTEXT,
    FIRST_IN_WINDOW,
    PATTERN_RATE,
    SEVERITY,
    Decider,
    Decision,
    ErrorContextBuffer,
    trace_unit,
)
from lipservice_sdk.policy import ErrorContext, PolicyDocument
from lipservice_sdk.severity import ALWAYS_KEPT, read_severity

from policies.engine.pricing import Pricing, month_factor, period_dollars


@dataclass(frozen=True)
class ReplayLine:
    message: str
    severity: str = "INFO"
    timestamp: float | None = None
    bytes: int = 0
    trace_id: str | None = None
    line_id: int = 0
    attributes: Mapping[str, Any] = field(default_factory=dict)
    severity_number: int | None = None

    @property
    def size(self) -> int:
        return self.bytes or len(self.message.encode("utf-8", "replace")) + 1


@dataclass
class PatternEffect:
    pattern_id: str
    template: str
    rate: float | None
    lines: int = 0
    kept: int = 0
    bytes: int = 0
    bytes_kept: int = 0
    errors: int = 0
    errors_kept: int = 0
    kept_boosted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "pattern_id": self.pattern_id,
            "template": self.template,
            "rate": self.rate,
            "lines": self.lines,
            "kept": self.kept,
            "bytes": self.bytes,
            "bytes_kept": self.bytes_kept,
            "errors": self.errors,
            "errors_kept": self.errors_kept,
            "kept_boosted": self.kept_boosted,
        }


@dataclass(frozen=True)
class SimulationReport:
    service: str
    lines_total: int
    lines_kept: int
    bytes_total: int
    bytes_kept: int
    errors_total: int
    errors_kept: int
    patterns_total: int
    patterns_covered: int
    lines_kept_boosted: int
    pricing: Pricing
    observed_seconds: float | None
    per_pattern: tuple[PatternEffect, ...]
    kept_by: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    keys_total: int = 0
    keys_covered: int = 0
    coverage_lost: tuple[str, ...] = ()
    target_reduction: float | None = None

    def with_target(self, target: float | None) -> SimulationReport:
        return replace(self, target_reduction=target)

    def target_check(self) -> dict[str, Any] | None:
        """Whether the byte target was met and, when not, what kept the bytes that broke it, largest first."""
        if self.target_reduction is None:
            return None
        achieved = self.reduction_bytes
        met = achieved + TARGET_TOLERANCE >= self.target_reduction
        budget = (1.0 - self.target_reduction) * self.bytes_total
        causes = [
            {"cause": cause, "lines": lines, "bytes": size, "description": CAUSES[cause]}
            for cause, (lines, size) in sorted(self.kept_by.items(), key=lambda item: (-item[1][1], item[0]))
            if cause in CAUSES and size
        ]
        return {
            "target_reduction": self.target_reduction,
            "achieved_reduction": round(achieved, 6),
            "met": met,
            "shortfall": 0.0 if met else round(self.target_reduction - achieved, 6),
            "bytes_over_budget": 0 if met else max(0, round(self.bytes_kept - budget)),
            "causes": [] if met else causes,
        }

    def verdict(self) -> str:
        """One sentence for reports: the target met, or missed by how much and because of what."""
        check = self.target_check()
        if check is None:
            return ""
        if check["met"]:
            return f"target {check['target_reduction']:.0%} met ({check['achieved_reduction']:.1%} byte reduction)"
        parts = ", ".join(f"{c['description']} {c['lines']:,} lines ({c['bytes']:,} B)" for c in check["causes"])
        return (
            f"target {check['target_reduction']:.0%} MISSED: {check['achieved_reduction']:.1%} byte reduction, "
            f"{check['shortfall']:.1%} short ({check['bytes_over_budget']:,} B over budget); kept by {parts}"
        )

    @property
    def reduction_lines(self) -> float:
        return 1.0 - self.lines_kept / self.lines_total if self.lines_total else 0.0

    @property
    def reduction_bytes(self) -> float:
        return 1.0 - self.bytes_kept / self.bytes_total if self.bytes_total else 0.0

    @property
    def dollars_before(self) -> float:
        """The replayed period's share of the month's bill at this pace, priced by the tiered table."""
        return float(period_dollars(self.pricing, num_bytes=self.bytes_total, observed_seconds=self.observed_seconds))

    @property
    def dollars_after(self) -> float:
        return float(period_dollars(self.pricing, num_bytes=self.bytes_kept, observed_seconds=self.observed_seconds))

    @property
    def price_per_gb(self) -> float:
        """The average price per GB at the month's volume before sampling (tiers and retention included)."""
        gigabytes = self.bytes_total / 1e9 * float(month_factor(self.observed_seconds))
        return float(self.pricing.average_price_per_gb(Decimal(str(gigabytes))))

    def monthly(self, dollars: float) -> float | None:
        if not self.observed_seconds:
            return None
        return dollars * float(month_factor(self.observed_seconds))

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "lines_total": self.lines_total,
            "lines_kept": self.lines_kept,
            "bytes_total": self.bytes_total,
            "bytes_kept": self.bytes_kept,
            "reduction_lines": round(self.reduction_lines, 6),
            "reduction_bytes": round(self.reduction_bytes, 6),
            "errors_total": self.errors_total,
            "errors_kept": self.errors_kept,
            "patterns_total": self.patterns_total,
            "patterns_covered": self.patterns_covered,
            "lines_kept_boosted": self.lines_kept_boosted,
            "price_per_gb": self.price_per_gb,
            "currency": self.pricing.currency,
            "dollars_before": self.dollars_before,
            "dollars_after": self.dollars_after,
            "observed_seconds": self.observed_seconds,
            "dollars_per_month_before": self.monthly(self.dollars_before),
            "dollars_per_month_after": self.monthly(self.dollars_after),
            "kept_by": {cause: {"lines": n, "bytes": b} for cause, (n, b) in sorted(self.kept_by.items())},
            "keys_total": self.keys_total,
            "keys_covered": self.keys_covered,
            "coverage_lost": list(self.coverage_lost),
            "target": self.target_check(),
            "per_pattern": [effect.as_dict() for effect in self.per_pattern],
        }


def simulate(
    *,
    policy: PolicyDocument,
    records: Iterable[ReplayLine],
    pricing: Pricing,
    seed: int = 0,
    on_decision: Callable[[ReplayLine, Decision], None] | None = None,
    target_reduction: float | None = None,
) -> SimulationReport:
    """Replay in the given order; records without a timestamp all fall in one window (time 0). With a byte
    target, the report says whether it was met and, if not, what kept the bytes (report.target_check())."""
    decider = Decider(policy, rng=random.Random(seed), clock=lambda: 0.0)
    kept_by: dict[str, list[int]] = {}
    key_pattern: dict[str, str] = {}
    keys_kept: set[str] = set()
    templates = {rule.id: (rule.template, rule.rate) for rule in policy.patterns}
    effects: dict[str, PatternEffect] = {}
    lines = kept = size_total = size_kept = errors = errors_kept = 0
    first: float | None = None
    last: float | None = None
    replay = _replay_with_context if policy.error_context.enabled else _replay
    for record, decision in replay(decider, records, policy.error_context):
        if on_decision is not None:
            on_decision(record, decision)
        if record.timestamp is not None:
            first = record.timestamp if first is None else min(first, record.timestamp)
            last = record.timestamp if last is None else max(last, record.timestamp)
        effect = effects.get(decision.pattern_id)
        if effect is None:
            template, rate = templates.get(decision.pattern_id, (record.message[:200], None))
            effect = effects[decision.pattern_id] = PatternEffect(decision.pattern_id, template, rate)
        size = record.size
        is_error = read_severity(record.severity, record.severity_number) in ALWAYS_KEPT
        lines += 1
        size_total += size
        effect.lines += 1
        effect.bytes += size
        if is_error:
            errors += 1
            effect.errors += 1
        key = decision.signature or decision.pattern_id
        key_pattern.setdefault(key, decision.pattern_id)
        if decision.keep:
            keys_kept.add(key)
            cause = _cause(decision)
            tally = kept_by.setdefault(cause, [0, 0])
            tally[0] += 1
            tally[1] += size
            kept += 1
            size_kept += size
            effect.kept += 1
            effect.bytes_kept += size
            effect.kept_boosted += int(decision.boosted)
            if is_error:
                errors_kept += 1
                effect.errors_kept += 1
    ordered = tuple(sorted(effects.values(), key=lambda e: (-e.bytes, e.pattern_id)))
    return SimulationReport(
        service=policy.service,
        lines_total=lines,
        lines_kept=kept,
        bytes_total=size_total,
        bytes_kept=size_kept,
        errors_total=errors,
        errors_kept=errors_kept,
        patterns_total=len(effects),
        patterns_covered=sum(1 for e in effects.values() if e.kept),
        lines_kept_boosted=sum(e.kept_boosted for e in effects.values()),
        pricing=pricing,
        observed_seconds=(last - first) if first is not None and last is not None and last > first else None,
        per_pattern=ordered,
        kept_by={cause: (n, b) for cause, (n, b) in kept_by.items()},
        keys_total=len(key_pattern),
        keys_covered=len(keys_kept),
        coverage_lost=tuple(sorted({p for k, p in key_pattern.items() if k not in keys_kept})),
        target_reduction=target_reduction,
    )


# Why a kept line was kept, as reports name it; the first four are what can break a byte target.
CAUSES: Mapping[str, str] = {
    "anomaly_boost": "lines kept while an anomaly boost was active",
    "first_in_window": "first lines per window",
    "protected_pattern": "lines of patterns kept in full (rare, or every line an error or first line)",
    "error_context": "lines held and sent for an error in their trace",
    "errors": "ERROR/FATAL lines (always kept)",
    "attribute": "lines kept by an attribute rule",
    "sampled": "lines sampled at their pattern's rate",
}
TARGET_TOLERANCE = 0.005


def _cause(decision: Decision) -> str:
    if decision.boosted:
        return "anomaly_boost"
    if decision.reason == SEVERITY:
        return "errors"
    if decision.reason == FIRST_IN_WINDOW:
        return "first_in_window"
    if decision.reason == ERROR_CONTEXT:
        return "error_context"
    if decision.reason == ATTRIBUTE:
        return "attribute"
    if decision.reason == PATTERN_RATE and decision.rate >= 1.0:
        return "protected_pattern"
    return "sampled"


def _decide(decider: Decider, record: ReplayLine) -> Decision:
    return decider.decide(
        message=record.message,
        severity=read_severity(record.severity, record.severity_number),
        timestamp=record.timestamp,
        trace_id=record.trace_id,
        attributes=record.attributes,
    )


def _replay(
    decider: Decider, records: Iterable[ReplayLine], _settings: ErrorContext
) -> Iterator[tuple[ReplayLine, Decision]]:
    for record in records:
        yield record, _decide(decider, record)


def _replay_with_context(
    decider: Decider, records: Iterable[ReplayLine], settings: ErrorContext
) -> Iterator[tuple[ReplayLine, Decision]]:
    """Dropped lines wait in a per-trace buffer; an error in the trace turns them into kept lines, as the SDK does."""
    replayed: list[tuple[ReplayLine, Decision]] = []
    buffer: ErrorContextBuffer[int] = ErrorContextBuffer(settings)
    for record in records:
        decision = _decide(decider, record)
        replayed.append((record, decision))
        if trace_unit(record.trace_id) is None or record.trace_id is None:
            continue
        now = record.timestamp if record.timestamp is not None else 0.0
        if read_severity(record.severity, record.severity_number) in ALWAYS_KEPT:
            for index in buffer.release(trace_id=record.trace_id, now=now):
                held, dropped = replayed[index]
                replayed[index] = (held, replace(dropped, keep=True, rate=1.0, reason=ERROR_CONTEXT))
        elif not decision.keep:
            buffer.hold(trace_id=record.trace_id, item=len(replayed) - 1, now=now)
    yield from replayed
