"""The periodic jobs, declared in code; `setup_periodic_tasks` syncs them into django-celery-beat."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Job:
    task: str
    every_seconds: int
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)


# Names are stable keys: renaming one creates a new beat entry and removes the old one.
SCHEDULE: dict[str, Job] = {
    "policies: analyse, propose, publish": Job(
        task="policies.pipeline_all",
        every_seconds=3600,
        description="Analyse each service's new hour of logs, then propose and (if allowed) publish a policy.",
    ),
    "insights: scan anomalies": Job(
        task="insights.scan_all_services",
        every_seconds=3600,
        description="Detect rate anomalies, group them into incidents, alert.",
    ),
    "patterns: prune old windows": Job(
        task="patterns.prune_windows", every_seconds=24 * 3600, description="Delete per-window counts past retention."
    ),
}
