"""What the policy engine needs to know about a mined pattern, independent of how it was mined."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lipservice_sdk.severity import ALWAYS_KEPT


@dataclass(frozen=True)
class PatternStats:
    id: str
    template: str
    count: int
    bytes: int
    severity_counts: Mapping[str, int] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()
    first_seen: float | None = None
    last_seen: float | None = None
    key_count: int = 0

    @property
    def variants(self) -> int:
        """Distinct template keys (signatures) in the pattern; each has its own first line per window."""
        return max(1, self.key_count or len(self.signatures))

    @property
    def error_count(self) -> int:
        return sum(n for name, n in self.severity_counts.items() if name in ALWAYS_KEPT)

    @property
    def dominant_severity(self) -> str:
        """The most common severity below ERROR, or ERROR when every line is an error."""
        calm = {name: n for name, n in self.severity_counts.items() if name not in ALWAYS_KEPT and n > 0}
        if calm:
            return max(calm, key=lambda name: calm[name])
        return "ERROR" if self.error_count else "INFO"

    @property
    def line_bytes(self) -> float:
        return self.bytes / self.count if self.count else 0.0
