"""Mine, plan and replay in one call: what `simulate_policy` and the benchmarks run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lipservice_sdk.decision import Decision
from lipservice_sdk.policy import PolicyDocument

from policies.engine.mining import mine_records
from policies.engine.pricing import Pricing
from policies.engine.rules import RuleConfig, Target, generate_rule_policy, reduction_for
from policies.engine.simulator import ReplayLine, SimulationReport, simulate
from policies.engine.stats import PatternStats

PLAN_ROUNDS = 4


@dataclass(frozen=True)
class PlanOutcome:
    policy: PolicyDocument
    stats: tuple[PatternStats, ...]
    report: SimulationReport
    decisions: tuple[Decision, ...]


def plan_and_replay(
    *,
    records: Sequence[ReplayLine],
    service: str,
    target: Target,
    window_seconds: int,
    pricing: Pricing,
    seed: int = 0,
    rule_config: RuleConfig | None = None,
    on_decision: Callable[[ReplayLine, Decision], object] | None = None,
    on_round: Callable[[int], object] | None = None,
) -> PlanOutcome:
    """Mine the records, write the rule-based policy for the target, and replay the same records through it
    (`on_decision` sees each replayed line and `on_round` each replay's number from 1, e.g. for progress).

    The anomaly boost keeps lines the rates did not plan for, and sampling draws fall short of or above their
    expectation; when the replay misses the target, the policy is written again with the excess set aside from the
    budget (up to PLAN_ROUNDS times), so the target holds on the replayed history, boosts included. What no plan can
    cut (errors, first lines, rare patterns) stays, and the report says so."""
    stats = mine_records(records)
    config = rule_config or RuleConfig(window_seconds=window_seconds)
    total = sum(s.bytes for s in stats)
    wanted = reduction_for(target, total_bytes=total)
    reserve = 0.0
    outcome: PlanOutcome | None = None
    for round_number in range(1, PLAN_ROUNDS + 1):
        if on_round is not None:
            on_round(round_number)
        policy = generate_rule_policy(service=service, stats=stats, target=target, config=config, reserve_bytes=reserve)
        decisions: list[Decision] = []

        def record_decision(record: ReplayLine, decision: Decision, into: list[Decision] = decisions) -> None:
            into.append(decision)
            if on_decision is not None:
                on_decision(record, decision)

        report = simulate(
            policy=policy,
            records=records,
            pricing=pricing,
            seed=seed,
            on_decision=record_decision,
            target_reduction=wanted,
        )
        outcome = PlanOutcome(policy, tuple(stats), report, tuple(decisions))
        check = report.target_check()
        if check is None or check["met"] or not check["bytes_over_budget"]:
            break
        reserve += check["bytes_over_budget"]
    assert outcome is not None
    return outcome
