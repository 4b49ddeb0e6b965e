"""Simulating a policy on a service's own history: replay recent logs from its source, else estimate from stats."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone
from lipservice_sdk.policy import PolicyDocument, policy_from_dict

from patterns.connections import source_for_service
from patterns.models import Service
from patterns.sources import SourceError, SourceRecord
from policies.engine.pricing import Pricing, PricingError, gigabytes, parse_pricing
from policies.engine.rules import estimate_reduction
from policies.engine.simulator import TARGET_TOLERANCE, ReplayLine, simulate
from policies.selectors import default_price_table, pattern_stats_for_service, team_price_table

logger = logging.getLogger(__name__)

REPLAY_HOURS = 24
REPLAY_MAX_LINES = 500_000


def _records(source_records: Iterator[SourceRecord], limit: int) -> Iterator[ReplayLine]:
    for index, record in enumerate(source_records):
        if index >= limit:
            return
        yield ReplayLine(
            message=record.body,
            severity=record.severity,
            timestamp=record.timestamp.timestamp(),
            bytes=record.bytes,
            trace_id=record.trace_id,
            line_id=index + 1,
            attributes=dict(record.attributes),
        )


def service_pricing(service: Service) -> Pricing:
    """The team's tiered table over the default; a broken team table prices at the default (and says so in the log)."""
    try:
        return team_price_table(team=service.team)
    except PricingError as exc:
        logger.warning("team %s has an invalid price table (%s); simulating at the default", service.team_id, exc)
        return parse_pricing(default_price_table())


def policy_simulate(
    *,
    service: Service,
    document: PolicyDocument | Mapping[str, Any],
    hours: int = REPLAY_HOURS,
    target_reduction: float | None = None,
) -> dict[str, Any]:
    """Replay the last `hours` of analysed history through the policy; estimate from pattern stats if no source.

    With a target, the report's `target` says whether the replay met it and, if not, what kept the bytes."""
    policy = document if isinstance(document, PolicyDocument) else policy_from_dict(dict(document))
    end = service.analysis_watermark or timezone.now()
    start = end - timedelta(hours=hours)
    pricing = service_pricing(service)
    try:
        if (service.source_config or {}).get("raw_lines") is False:
            # The service was analysed by counts pushed down into its backend; no raw line may be read out of it.
            raise SourceError("raw lines stay in the source; estimating from pushed-down counts")
        source = source_for_service(service)
        records = _records(source.fetch_logs(service=service.name, start=start, end=end), REPLAY_MAX_LINES)
        report = simulate(policy=policy, records=records, pricing=pricing, target_reduction=target_reduction)
        if report.lines_total:
            return {
                "method": "replay",
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                **report.as_dict(),
            }
    except SourceError as exc:
        logger.info("no replay for %s (%s); estimating from pattern stats", service, exc)
    stats = pattern_stats_for_service(service=service)
    reduction = estimate_reduction(policy=policy, stats=stats)
    total_bytes = sum(s.bytes for s in stats)
    return {
        "method": "estimate",
        "service": service.name,
        "lines_total": sum(s.count for s in stats),
        "bytes_total": total_bytes,
        "bytes_kept": round(total_bytes * (1 - reduction)),
        "reduction_bytes": round(reduction, 6),
        "errors_total": sum(s.error_count for s in stats),
        "errors_kept": sum(s.error_count for s in stats),
        "patterns_total": len(stats),
        "patterns_covered": len(stats),
        "price_per_gb": float(pricing.average_price_per_gb(gigabytes(total_bytes))),
        "currency": pricing.currency,
        "dollars_before": float(pricing.monthly_cost(gigabytes(total_bytes))),
        "dollars_after": float(pricing.monthly_cost(gigabytes(round(total_bytes * (1 - reduction))))),
        "target": _estimated_target(target_reduction, reduction),
        "per_pattern": [],
    }


SHARE_FLOOR = 0.1


def share_floor_failure(report: Mapping[str, Any], baseline: Mapping[str, Any]) -> str | None:
    """The first pattern whose kept share under `report` falls below a tenth of its share under `baseline` (the
    rule-based policy replayed on the same history), or None. A model may cut harder than the rules, not to nothing."""
    if report.get("method") != "replay" or baseline.get("method") != "replay":
        return "no replay on real history to compare with the rule-based policy"
    ours = {row["pattern_id"]: row for row in report.get("per_pattern", [])}
    for row in baseline.get("per_pattern", []):
        if not row["lines"] or not row["kept"]:
            continue
        mine = ours.get(row["pattern_id"])
        share = mine["kept"] / mine["lines"] if mine and mine["lines"] else 0.0
        floor = SHARE_FLOOR * row["kept"] / row["lines"]
        if share < floor:
            return (
                f"pattern {row['pattern_id']} keeps {share:.4f} of its lines, under a tenth of the rule-based "
                f"policy's {row['kept'] / row['lines']:.4f}"
            )
    return None


def _estimated_target(target: float | None, reduction: float) -> dict[str, Any] | None:
    if target is None:
        return None
    met = reduction + TARGET_TOLERANCE >= target
    causes = [] if met else [{"cause": "estimate", "lines": 0, "bytes": 0, "description": "errors, rare patterns and "
                              "first lines per window, which the estimate keeps in full"}]  # fmt: skip
    return {
        "target_reduction": target,
        "achieved_reduction": round(reduction, 6),
        "met": met,
        "shortfall": 0.0 if met else round(target - reduction, 6),
        "bytes_over_budget": 0,
        "causes": causes,
    }


def simulation_passes(report: Mapping[str, Any]) -> tuple[bool, str]:
    """A proposal may publish itself only if replay kept every error and every pattern, and saved something."""
    if report.get("method") != "replay":
        return False, "no replay on real history was possible"
    if report["errors_kept"] != report["errors_total"]:
        return False, f"replay dropped {report['errors_total'] - report['errors_kept']} error lines"
    if report["patterns_covered"] != report["patterns_total"]:
        return False, f"replay lost {report['patterns_total'] - report['patterns_covered']} patterns entirely"
    if report["reduction_bytes"] <= 0:
        return False, "the policy saves nothing"
    return True, "kept every error and every pattern"
