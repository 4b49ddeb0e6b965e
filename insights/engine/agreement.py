"""Did the policy save what its simulation promised? Predicted byte reduction vs the SDK's measured one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_TOLERANCE = 0.05


@dataclass(frozen=True)
class SavingsAgreement:
    predicted_reduction: float | None
    measured_reduction: float | None
    bytes_seen: int
    bytes_kept: int
    relative_error: float | None
    tolerance: float

    @property
    def agrees(self) -> bool | None:
        """Within `tolerance` of the prediction, relative (5% of a 70% reduction is ±3.5 points); None: no data."""
        return None if self.relative_error is None else self.relative_error <= self.tolerance


def savings_agreement(
    *, simulation: Mapping[str, Any], bytes_seen: int, bytes_kept: int, tolerance: float = DEFAULT_TOLERANCE
) -> SavingsAgreement:
    """`simulation` is PolicyVersion.simulation (the simulator's report); bytes are SDK counts since publishing.

    Without a simulation (a hand-written policy) or without SDK counts the answer is unknown, never a pass.
    """
    raw = simulation.get("reduction_bytes")
    if raw is None and simulation.get("bytes_total"):
        raw = 1 - float(simulation.get("bytes_kept") or 0) / float(simulation["bytes_total"])
    predicted = None if raw is None else float(raw)
    if bytes_seen <= 0 or predicted is None:
        measured_only = None if bytes_seen <= 0 else 1 - bytes_kept / bytes_seen
        return SavingsAgreement(predicted, measured_only, bytes_seen, bytes_kept, None, tolerance)
    measured = 1 - bytes_kept / bytes_seen
    if predicted > 0:
        relative: float | None = abs(measured - predicted) / predicted
    else:
        relative = 0.0 if measured == 0 else None
    return SavingsAgreement(predicted, measured, bytes_seen, bytes_kept, relative, tolerance)
