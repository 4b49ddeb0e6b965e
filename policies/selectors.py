"""Reads for policy versions, webhooks and the audit trail; all scoped through a team's service."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from lipservice.errors import NotFound
from lipservice.models import Team
from patterns.models import Service
from patterns.selectors import pattern_list_for_service
from policies.engine.pricing import Pricing, parse_pricing
from policies.engine.stats import PatternStats
from policies.models import AuditEntry, PolicyVersion, WebhookDelivery


def policy_active(*, service: Service) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(service=service, status=PolicyVersion.Status.ACTIVE).first()


def policy_versions_published(*, service: Service) -> QuerySet[PolicyVersion]:
    """Every version that was ever published, in the order it was."""
    return PolicyVersion.objects.filter(service=service, published_at__isnull=False).order_by("published_at")


def latest_version(*, service: Service) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(service=service).order_by("-number").first()


def policy_versions(*, service: Service) -> QuerySet[PolicyVersion]:
    return PolicyVersion.objects.filter(service=service).order_by("-number")


def policy_version_get(*, service: Service, number: int) -> PolicyVersion:
    version = PolicyVersion.objects.filter(service=service, number=number).first()
    if version is None:
        raise NotFound(f"Service {service.name!r} has no policy version {number}.")
    return version


def audit_entries(*, service: Service) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(service=service).order_by("-created_at")


def webhook_deliveries(*, service: Service) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook__team=service.team).order_by("-created_at")


def pattern_stats_for_service(*, service: Service) -> list[PatternStats]:
    """The mined patterns of a service in the shape the policy engine takes."""
    return [
        PatternStats(
            id=p.pattern_id,
            template=p.template,
            count=p.count,
            bytes=p.bytes,
            severity_counts=dict(p.severity_counts or {}),
            examples=tuple(p.examples or ()),
            signatures=tuple(p.signatures or ()),
            first_seen=p.first_seen.timestamp() if p.first_seen else None,
            last_seen=p.last_seen.timestamp() if p.last_seen else None,
        )
        for p in pattern_list_for_service(service=service)
    ]


def policy_rules_by_pattern(*, service: Service) -> dict[str, dict[str, Any]]:
    """The active policy's pattern rules keyed by pattern id (empty without an active policy)."""
    active = policy_active(service=service)
    if active is None:
        return {}
    return {rule["id"]: rule for rule in active.document.get("patterns", [])}


def default_price_table() -> Any:
    """`LIPSERVICE_PRICE_TABLE` (an object or its JSON) if set, else one flat tier at `LIPSERVICE_PRICE_PER_GB`."""
    table = getattr(settings, "LIPSERVICE_PRICE_TABLE", None)
    if isinstance(table, str) and table.strip():
        return json.loads(table)  # the raw JSON of an environment variable
    if table:
        return table
    return {"currency": "USD", "tiers": [{"up_to_gb": None, "price_per_gb": settings.LIPSERVICE_PRICE_PER_GB}]}


def team_price_table(*, team: Team) -> Pricing:
    """The team's price table (`Team.config["pricing"]`) over the settings default; raises PricingError if broken."""
    return parse_pricing((team.config or {}).get("pricing"), default=parse_pricing(default_price_table()))
