"""Policy gauges of the service's own metrics, set from the active versions just before a scrape."""

from __future__ import annotations

from lipservice.metrics import SAVINGS_RATIO
from policies.models import PolicyVersion


def policy_savings_gauges_refresh() -> None:
    """Set the savings gauge from the active policies' simulations (cheap: one row per service)."""
    active = PolicyVersion.objects.filter(status=PolicyVersion.Status.ACTIVE).select_related("service__team")
    for version in active.only("simulation", "service__name", "service__team__name"):
        reduction = (version.simulation or {}).get("reduction_bytes")
        if isinstance(reduction, int | float):
            SAVINGS_RATIO.labels(f"{version.service.team.name}/{version.service.name}").set(reduction)
