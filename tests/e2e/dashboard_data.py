"""A small, realistic team for dashboard tests: one service, hourly windows over a week, an active policy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User

from lipservice.models import Team, TeamMembership
from lipservice.services import team_member_add
from patterns.models import Pattern, PatternWindow, Service
from policies.models import PolicyVersion
from policies.services import policy_create

PASSWORD = "dashboard-test-password"
SERVICE = "checkout-api"
# (pattern id, template, severity, lines per hour at peak, bytes per line, rate in the policy)
PATTERNS: tuple[tuple[str, str, str, int, int, float], ...] = (
    ("sql", "SELECT * FROM <*> WHERE id = <NUM> (<NUM>)", "DEBUG", 2400, 48, 0.02),
    ("access", "<*> /api/v1/<*> HTTP/<NUM> <NUM> <NUM> <NUM> request_id=<UUID>", "INFO", 1200, 96, 0.1),
    ("cache", "cache hit key=<ID>", "DEBUG", 900, 28, 0.05),
    ("health", "GET /healthz <NUM> <NUM>", "INFO", 400, 20, 0.05),
    ("order", "order <NUM> placed by u_<NUM> total=<NUM> EUR", "INFO", 30, 46, 1.0),
    ("timeout", "upstream payments-service timed out after <NUM>, retrying attempt=<NUM>", "ERROR", 3, 70, 1.0),
    # Peak 0: three lines in the whole week, under the checker's rare floor, so its rate must stay 1.0.
    ("deadlock", "deadlock detected on table <*>", "WARN", 0, 60, 1.0),
)


@dataclass(frozen=True)
class DashboardData:
    team: Team
    user: User
    service: Service
    first_version: PolicyVersion
    active_version: PolicyVersion


def build_dashboard_data(*, username: str = "alice", days: int = 7, now: datetime | None = None) -> DashboardData:
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    team = Team.objects.create(name="acme", display_name="Acme shop")
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=True)
    team_member_add(team=team, user=user, role=TeamMembership.Role.ADMIN)
    service = Service.objects.create(team=team, name=SERVICE, description="HTTP API for carts and orders")
    windows: list[PatternWindow] = []
    for pattern_id, template, severity, peak, size, rate in PATTERNS:
        hours = int((end - start).total_seconds() // 3600)
        if peak:
            counts = [max(1, int(peak * (0.55 + 0.45 * math.sin(2 * math.pi * h / 24)))) for h in range(hours)]
        else:
            counts = [1 if h in (5, 50, 100) else 0 for h in range(hours)]
        total = sum(counts)
        pattern = Pattern.objects.create(
            service=service,
            pattern_id=pattern_id,
            template=template,
            count=total,
            bytes=total * size,
            severity_counts={severity: total},
            examples=[template.replace("<*>", "orders").replace("<NUM>", "42").replace("<ID>", "k1")],
            first_seen=start,
            last_seen=end,
        )
        errors = total if severity == "ERROR" else 0
        for h, count in enumerate(counts):
            if count == 0:
                continue
            kept = count if errors else math.ceil(count * rate)
            windows.append(
                PatternWindow(
                    service=service,
                    pattern=pattern,
                    bucket_start=start + timedelta(hours=h),
                    bucket_seconds=3600,
                    count=count,
                    bytes=count * size,
                    errors=count if errors else 0,
                    sdk_seen=count,
                    sdk_kept=kept,
                    sdk_bytes_seen=count * size,
                    sdk_bytes_kept=kept * size,
                )
            )
    PatternWindow.objects.bulk_create(windows)
    document = {
        "service": SERVICE,
        "severity_rates": {"TRACE": 0.05, "DEBUG": 0.05, "INFO": 0.3, "WARN": 1.0},
        "default_rate": 1.0,
        "patterns": [
            {"id": pid, "template": template, "rate": 1.0, "reason": "first version keeps everything"}
            for pid, template, *_ in PATTERNS
        ],
        "reasoning": "Start: keep everything.",
    }
    first = policy_create(service=service, document=document, actor="user:alice", activate=True)
    document["patterns"] = [
        {"id": pid, "template": template, "rate": rate, "reason": f"{severity} volume; sampled at {rate:g}"}
        for pid, template, severity, _peak, _size, rate in PATTERNS
    ]
    document["reasoning"] = "Sample the chatty DEBUG and INFO patterns; keep orders and every error."
    active = policy_create(service=service, document=document, actor="system:pipeline", activate=True)
    return DashboardData(team=team, user=user, service=service, first_version=first, active_version=active)
