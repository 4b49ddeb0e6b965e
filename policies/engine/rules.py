"""The default policy generator: offline and deterministic, it meets a reduction or budget target losing least."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from lipservice_sdk.policy import KeepRules, PatternRule, PolicyDocument
from lipservice_sdk.severity import ALWAYS_KEPT, SEVERITIES
from lipservice_sdk.signature import WILDCARD

from policies.engine.checker import Limits
from policies.engine.pricing import Pricing, bytes_within_budget, monthly_dollars
from policies.engine.stats import PatternStats

# How much a kept line of each kind is worth relative to INFO; only the ratios matter.
DEFAULT_SEVERITY_WEIGHTS: Mapping[str, float] = {"TRACE": 0.25, "DEBUG": 0.5, "INFO": 1.0, "WARN": 4.0}
DEFAULT_CHATTER_WORDS: tuple[str, ...] = (
    "health", "healthz", "healthcheck", "heartbeat", "ping", "pong", "readiness", "liveness", "keepalive",
    "keep-alive", "alive", "status ok", "polling", "poll",
)  # fmt: skip


@dataclass(frozen=True)
class ReductionTarget:
    fraction: float


@dataclass(frozen=True)
class BudgetTarget:
    dollars_per_month: float
    pricing: Pricing
    observed_seconds: float


Target = ReductionTarget | BudgetTarget


@dataclass(frozen=True)
class RuleConfig:
    window_seconds: int = 300
    first_per_signature: bool = True
    min_rate: float = 0.001
    severity_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_WEIGHTS))
    chatter_words: tuple[str, ...] = DEFAULT_CHATTER_WORDS
    chatter_weight: float = 0.5
    error_pattern_weight: float = 4.0
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class _Plan:
    stats: PatternStats
    protected_lines: int
    sampleable_lines: int
    weight: float
    rare: bool
    chatter: bool


def monthly_cost(*, bytes_observed: float, observed_seconds: float, pricing: Pricing) -> float:
    """The month's bill at this pace, priced by the tiered table."""
    return float(monthly_dollars(pricing, num_bytes=bytes_observed, observed_seconds=observed_seconds))


def reduction_for(target: Target, *, total_bytes: int) -> float:
    """The byte reduction a target asks for, in [0, 1]."""
    if isinstance(target, ReductionTarget):
        return min(1.0, max(0.0, target.fraction))
    if total_bytes <= 0:
        return 0.0
    allowed = bytes_within_budget(
        target.pricing,
        dollars_per_month=target.dollars_per_month,
        observed_seconds=target.observed_seconds,
        upper_bytes=float(total_bytes),
    )
    return min(1.0, max(0.0, 1.0 - allowed / total_bytes))


def generate_rule_policy(
    *,
    service: str,
    stats: Sequence[PatternStats],
    target: Target,
    config: RuleConfig | None = None,
    generated_at: datetime | None = None,
    reserve_bytes: float = 0.0,
) -> PolicyDocument:
    """Equalise kept lines across patterns (weighted by information) until the expected byte reduction meets target.

    High-volume patterns are cut first because a shared cap on kept lines bites them first; errors, rare patterns
    and the first line per window are never cut, so they are charged up front as kept. `reserve_bytes` is kept
    aside from the budget for what the rates do not decide, such as lines an anomaly boost keeps on replay.
    """
    config = config or RuleConfig()
    total_bytes = sum(s.bytes for s in stats)
    wanted = reduction_for(target, total_bytes=total_bytes)
    allowed = max(0.0, (1.0 - wanted) * total_bytes - reserve_bytes)
    plans = [_plan(s, config) for s in stats]
    if config.first_per_signature and _floor(plans, config) > allowed:
        # Keeping the first line of every template key is a luxury: drop it when it alone breaks the target and
        # keeping the first line of every pattern instead fits, or at least comes closer (high-cardinality text
        # that the masking leaves unmasked). The replay report then names any pattern whose keys lost every line.
        coarser = replace(config, first_per_signature=False)
        coarse_plans = [_plan(s, coarser) for s in stats]
        if _floor(coarse_plans, coarser) < _floor(plans, config):
            config, plans = coarser, coarse_plans
    cap = _solve_cap(plans, allowed=allowed, config=config)
    rates = {p.stats.id: _rate(p, cap, config) for p in plans}
    expected = sum(_expected_bytes(p, rates[p.stats.id]) for p in plans)
    rules = tuple(
        PatternRule(
            id=p.stats.id,
            template=bounded_template(p.stats.template, config.limits.max_template_length),
            signatures=tuple(p.stats.signatures[: config.limits.max_signatures_per_pattern]),
            rate=rates[p.stats.id],
            reason=_reason(p, rates[p.stats.id], total_lines=sum(s.count for s in stats), config=config),
        )
        for p in sorted(plans, key=lambda p: -p.stats.count)[: config.limits.max_patterns]
    )
    achieved = 1.0 - expected / total_bytes if total_bytes else 0.0
    return PolicyDocument(
        service=service,
        generated_by="rules",
        generated_at=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        severity_rates=_severity_rates(plans, rates),
        patterns=rules,
        default_rate=1.0,
        keep=KeepRules(window_seconds=config.window_seconds, first_per_signature=config.first_per_signature),
        reasoning=_reasoning(plans, rates, wanted=wanted, achieved=achieved, total_bytes=total_bytes)
        + ("" if config.first_per_signature else _COARSE_NOTE),
    ).with_etag()


def bounded_template(template: str, limit: int) -> str:
    """The template, or for one longer than `limit` its leading tokens then `<*>`: a whole-token wildcard covers
    the rest, so the shorter template still covers every line of the pattern (its signatures still name them)."""
    if len(template) <= limit:
        return template
    kept: list[str] = []
    length = 0
    for token in template.split(" "):
        if length + len(token) + 1 + len(WILDCARD) > limit:
            break
        kept.append(token)
        length += len(token) + 1
    if not kept:
        first = template.split(" ", 1)[0]
        return first[: max(0, limit - 2 * len(WILDCARD) - 1)] + WILDCARD + " " + WILDCARD
    return " ".join([*kept, WILDCARD])


def estimate_reduction(
    *, policy: PolicyDocument, stats: Sequence[PatternStats], config: RuleConfig | None = None
) -> float:
    """Expected byte reduction of a policy over the stats it was made from (errors, rare and first lines kept)."""
    config = config or RuleConfig(
        window_seconds=policy.keep.window_seconds, first_per_signature=policy.keep.first_per_signature
    )
    rates = {rule.id: rule.rate for rule in policy.patterns}
    total = sum(s.bytes for s in stats)
    if not total:
        return 0.0
    kept = 0.0
    for plan in (_plan(s, config) for s in stats):
        rate = rates.get(plan.stats.id, policy.severity_rates.get(plan.stats.dominant_severity, policy.default_rate))
        kept += _expected_bytes(plan, 1.0 if plan.rare else rate)
    return 1.0 - kept / total


def _plan(stats: PatternStats, config: RuleConfig) -> _Plan:
    errors = stats.error_count
    calm = max(0, stats.count - errors)
    windows = _windows(stats, config.window_seconds)
    firsts = windows * (stats.variants if config.first_per_signature else 1)
    protected = errors + min(calm, firsts)
    rare = stats.count < config.limits.rare_floor
    text = stats.template.lower()
    chatter = any(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) for word in config.chatter_words)
    weight = config.severity_weights.get(stats.dominant_severity, 1.0)
    if chatter:
        weight *= config.chatter_weight
    if errors:
        weight *= config.error_pattern_weight
    sampleable = 0 if rare else max(0, stats.count - protected)
    return _Plan(stats, protected if not rare else stats.count, sampleable, weight, rare, chatter)


def _windows(stats: PatternStats, window_seconds: int) -> int:
    if window_seconds <= 0 or stats.first_seen is None or stats.last_seen is None:
        return 1
    first = math.floor(stats.first_seen / window_seconds)
    last = math.floor(stats.last_seen / window_seconds)
    return max(1, last - first + 1)


def _rate(plan: _Plan, cap: float, config: RuleConfig) -> float:
    if plan.rare or plan.sampleable_lines == 0:
        return 1.0
    raw = cap * plan.weight / plan.sampleable_lines
    if raw >= 1.0:
        return 1.0
    # Round up to three significant digits: readable in the UI and never below what the target needs.
    digits = 2 - math.floor(math.log10(max(raw, config.min_rate)))
    scale = 10.0**digits
    return min(1.0, max(config.min_rate, math.ceil(raw * scale) / scale))


def _expected_bytes(plan: _Plan, rate: float) -> float:
    line = plan.stats.line_bytes
    return (plan.protected_lines + rate * plan.sampleable_lines) * line


def _floor(plans: Sequence[_Plan], config: RuleConfig) -> float:
    """Expected kept bytes when every sampled rate is at its minimum: what no cap can go below."""
    return sum(_expected_bytes(p, _rate(p, 0.0, config)) for p in plans)


def _solve_cap(plans: Sequence[_Plan], *, allowed: float, config: RuleConfig) -> float:
    """Largest shared cap whose expected kept bytes fit in `allowed`; 0 when even the protected lines do not."""

    def kept(cap: float) -> float:
        return sum(_expected_bytes(p, _rate(p, cap, config)) for p in plans)

    high = float(max((p.sampleable_lines for p in plans), default=0)) / min(
        (p.weight for p in plans if p.weight > 0), default=1.0
    )
    if kept(high) <= allowed:
        return high
    low = 0.0
    for _ in range(60):
        mid = (low + high) / 2
        if kept(mid) <= allowed:
            low = mid
        else:
            high = mid
    return low


def _severity_rates(plans: Sequence[_Plan], rates: Mapping[str, float]) -> dict[str, float]:
    """For lines of patterns the policy does not know yet: the line-weighted rate of known patterns of that level."""
    result: dict[str, float] = {}
    for name in SEVERITIES:
        if name in ALWAYS_KEPT:
            result[name] = 1.0
            continue
        group = [p for p in plans if p.stats.dominant_severity == name and p.sampleable_lines]
        lines = sum(p.sampleable_lines for p in group)
        if not lines:
            result[name] = 1.0
            continue
        mean = sum(rates[p.stats.id] * p.sampleable_lines for p in group) / lines
        result[name] = min(1.0, math.ceil(mean * 1000) / 1000)
    return result


def _reason(plan: _Plan, rate: float, *, total_lines: int, config: RuleConfig) -> str:
    stats = plan.stats
    share = stats.count / total_lines if total_lines else 0.0
    volume = f"{stats.count:,} lines ({share:.1%} of lines, {_size(stats.bytes)})"
    if plan.rare:
        return f"Rare: {stats.count} lines, under the floor of {config.limits.rare_floor}; kept in full."
    if plan.sampleable_lines == 0:
        return f"Every line is an error or a first line per window ({volume}); kept in full."
    errors = f" Its {stats.error_count:,} ERROR/FATAL lines are always kept." if stats.error_count else ""
    if rate >= 1.0:
        return f"{stats.dominant_severity} pattern, {volume}; kept in full: the target is met without it.{errors}"
    kind = "Health-check/heartbeat chatter" if plan.chatter else f"{stats.dominant_severity} repeats"
    one_in = f"1 in {round(1 / rate):,}" if rate > 0 else "none"
    return (
        f"{kind}, {volume}: sampled at {rate:g} ({one_in}) plus the first line in each window "
        f"and lines with HTTP status >= 500.{errors}"
    )


def _reasoning(
    plans: Sequence[_Plan], rates: Mapping[str, float], *, wanted: float, achieved: float, total_bytes: int
) -> str:
    sampled = sum(1 for p in plans if rates[p.stats.id] < 1.0)
    rare = sum(1 for p in plans if p.rare)
    verdict = "meets" if achieved + 1e-9 >= wanted else "cannot meet"
    return (
        f"Rule-based policy for a {wanted:.0%} byte reduction: expected {achieved:.1%} of {_size(total_bytes)} "
        f"({verdict} the target). {sampled} of {len(plans)} patterns are sampled, highest volume and lowest "
        f"information (DEBUG/INFO repeats, health checks) first; {rare} rare patterns, every ERROR/FATAL line and "
        f"the first line of each pattern per window are always kept."
    )


_COARSE_NOTE = (
    " The first line of each distinct template key is not kept separately: those lines alone would exceed the "
    "target, so only the first line of each pattern is."
)


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} TB"
