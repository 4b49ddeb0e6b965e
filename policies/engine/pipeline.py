"""Mine, plan and replay in one call: what `simulate_policy` and the benchmarks run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lipservice_sdk.decision import Decision
from lipservice_sdk.policy import PolicyDocument

from policies.engine.mining import mine_records
from policies.engine.pricing import Pricing
from policies.engine.rules import RuleConfig, Target, generate_rule_policy
from policies.engine.simulator import LogRecord, SimulationReport, simulate
from policies.engine.stats import PatternStats


@dataclass(frozen=True)
class PlanOutcome:
    policy: PolicyDocument
    stats: tuple[PatternStats, ...]
    report: SimulationReport
    decisions: tuple[Decision, ...]


def plan_and_replay(
    *,
    records: Sequence[LogRecord],
    service: str,
    target: Target,
    window_seconds: int,
    pricing: Pricing,
    seed: int = 0,
    rule_config: RuleConfig | None = None,
) -> PlanOutcome:
    """Mine the records, write the rule-based policy for the target, and replay the same records through it."""
    stats = mine_records(records)
    config = rule_config or RuleConfig(window_seconds=window_seconds)
    policy = generate_rule_policy(service=service, stats=stats, target=target, config=config)
    decisions: list[Decision] = []
    report = simulate(
        policy=policy,
        records=records,
        pricing=pricing,
        seed=seed,
        on_decision=lambda _record, decision: decisions.append(decision),
    )
    return PlanOutcome(policy, tuple(stats), report, tuple(decisions))
