"""Alert decisions without Django: severity, grouping anomalies into incidents, cooldown, quiet hours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
RANK = {name: i for i, name in enumerate(SEVERITIES)}
GROUP_GAP = timedelta(hours=1)


@dataclass(frozen=True)
class AnomalySignal:
    """What alerting needs to know of a detected anomaly."""

    id: int
    service: str
    pattern: str | None
    kind: str  # spike, drop, new_pattern, error_rate
    start: datetime
    end: datetime
    score: float
    observed: float = 0.0
    expected: float = 0.0
    error_lines: int = 0


def classify(signal: AnomalySignal) -> str:
    """critical: error lines are involved and the jump is large, or the error rate itself jumped;
    warning: a strong rate change; info: everything else (new patterns, mild moves)."""
    ratio = signal.observed / signal.expected if signal.expected > 0 else float("inf")
    if signal.kind == "error_rate" or (signal.error_lines > 0 and (signal.score >= 6 or ratio >= 3)):
        return "critical"
    if signal.kind in {"spike", "drop"} and (signal.score >= 4 or ratio >= 2 or ratio <= 0.5):
        return "warning"
    return "info"


def max_severity(values: Sequence[str]) -> str:
    return max(values, key=lambda s: RANK.get(s, 0)) if values else "info"


@dataclass
class Group:
    service: str
    start: datetime
    end: datetime
    members: list[AnomalySignal] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return max_severity([classify(m) for m in self.members])

    def overlaps(self, start: datetime, end: datetime, gap: timedelta = GROUP_GAP) -> bool:
        return start <= self.end + gap and end >= self.start - gap


def group_signals(signals: Sequence[AnomalySignal], *, gap: timedelta = GROUP_GAP) -> list[Group]:
    """Anomalies of one service whose windows overlap (or nearly touch, within `gap`) are one incident.

    Sorted by start, a signal joins the open group of its service when it overlaps it, which makes the grouping
    transitive along a chain of overlapping windows.
    """
    groups: list[Group] = []
    open_by_service: dict[str, Group] = {}
    for signal in sorted(signals, key=lambda s: (s.service, s.start, s.id)):
        current = open_by_service.get(signal.service)
        if current is not None and current.overlaps(signal.start, signal.end, gap):
            current.members.append(signal)
            current.start = min(current.start, signal.start)
            current.end = max(current.end, signal.end)
            continue
        current = Group(service=signal.service, start=signal.start, end=signal.end, members=[signal])
        open_by_service[signal.service] = current
        groups.append(current)
    return groups


@dataclass(frozen=True)
class QuietHours:
    """A daily local-time window (may wrap midnight) in which only critical alerts go out, if `bypass_critical`."""

    start: time
    end: time
    timezone: str = "UTC"
    bypass_critical: bool = True

    def active(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def suppresses(self, *, severity: str, moment: datetime) -> bool:
        if not self.active(moment):
            return False
        return not (self.bypass_critical and severity == "critical")


def severity_at_least(severity: str, minimum: str) -> bool:
    return RANK.get(severity, 0) >= RANK.get(minimum, 0)
