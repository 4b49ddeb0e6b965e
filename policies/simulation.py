"""Simulating a policy on a service's own history: replay recent logs from its source, else estimate from stats."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from lipservice_sdk.policy import PolicyDocument, policy_from_dict

from patterns.connections import source_for_service
from patterns.models import Service
from patterns.sources import SourceError, SourceRecord
from policies.engine.rules import estimate_reduction
from policies.engine.simulator import ReplayLine, simulate
from policies.selectors import pattern_stats_for_service

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


def price_per_gb(service: Service) -> float:
    """The marginal list price: the first paid tier of the team's table (or the default table), else the flat price."""
    table = (service.team.config or {}).get("pricing") or settings.LIPSERVICE_PRICE_TABLE or {}
    tiers = table.get("tiers", []) if isinstance(table, dict) else []
    for tier in tiers:
        price = tier.get("price_per_gb") if isinstance(tier, dict) else None
        if isinstance(price, int | float) and price > 0:
            return float(price)
    return float(settings.LIPSERVICE_PRICE_PER_GB)


def policy_simulate(
    *, service: Service, document: PolicyDocument | Mapping[str, Any], hours: int = REPLAY_HOURS
) -> dict[str, Any]:
    """Replay the last `hours` of analysed history through the policy; estimate from pattern stats if no source."""
    policy = document if isinstance(document, PolicyDocument) else policy_from_dict(dict(document))
    end = service.analysis_watermark or timezone.now()
    start = end - timedelta(hours=hours)
    price = price_per_gb(service)
    try:
        if (service.source_config or {}).get("raw_lines") is False:
            # The service was analysed by counts pushed down into its backend; no raw line may be read out of it.
            raise SourceError("raw lines stay in the source; estimating from pushed-down counts")
        source = source_for_service(service)
        records = _records(source.fetch_logs(service=service.name, start=start, end=end), REPLAY_MAX_LINES)
        report = simulate(policy=policy, records=records, price_per_gb=price)
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
        "price_per_gb": price,
        "dollars_before": total_bytes / 1e9 * price,
        "dollars_after": total_bytes * (1 - reduction) / 1e9 * price,
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
