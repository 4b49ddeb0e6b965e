"""What a team's stored connections can do: PostHog logs read, HogQL, drop-rule writes, and ClickHouse reads."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from lipservice.models import Team
from patterns.connections import clickhouse_source_for_team, posthog_client_for_team
from patterns.sources import SourceError


def _skipped(detail: str) -> dict[str, str]:
    return {"status": "skipped", "detail": detail}


def team_connection_test(*, team: Team) -> dict[str, Any]:
    """Each capability probed with reads only; a capability that is not configured says so."""
    report: dict[str, Any] = {}
    # A team connected through OAuth has no pasted key; the client for the team picks the OAuth grant first.
    if team.posthog_project_id and (team.posthog_personal_api_key or hasattr(team, "posthog_oauth")):
        try:
            client = posthog_client_for_team(team)
        except SourceError as exc:
            error = {"status": "error", "detail": str(exc)}
            report.update(logs_read=error, hogql=error, drop_rule_write=error)
        else:
            with client:
                result = client.test_connection()
            report.update({name: asdict(getattr(result, name)) for name in ("logs_read", "hogql", "drop_rule_write")})
    else:
        missing = _skipped("set the PostHog project id and a personal API key (phx_…) first")
        report.update(logs_read=missing, hogql=missing, drop_rule_write=missing)
    report["clickhouse"] = _clickhouse_check(team)
    return report


def _clickhouse_check(team: Team) -> dict[str, str]:
    if not team.clickhouse_url or team.clickhouse_team_id is None:
        return _skipped("no ClickHouse connection configured (only self-hosted PostHog has one)")
    now = datetime.now(UTC)
    try:
        with clickhouse_source_for_team(team) as source:
            source.log_volume(service=None, start=now - timedelta(hours=1), end=now, bucket=timedelta(hours=1))
    except SourceError as exc:
        return {"status": "error", "detail": str(exc)}
    return {"status": "ok", "detail": "logs table readable"}
