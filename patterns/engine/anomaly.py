"""Rate anomalies per pattern over time buckets: spikes, drops, new patterns and error-rate jumps, with confidence."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SPIKE = "spike"
DROP = "drop"
NEW_PATTERN = "new_pattern"
ERROR_RATE = "error_rate"


_Hit = tuple[str, int, float, float, float, float]  # kind, bucket, observed, expected, score, confidence


@dataclass(frozen=True)
class AnomalyConfig:
    history: int = 48
    min_history: int = 6
    season: int = 0
    min_seasons: int = 3
    relative_noise: float = 0.1
    spike_z: float = 5.0
    drop_z: float = 4.0
    min_spike_delta: float = 10.0
    spike_ratio: float = 2.0
    drop_ratio: float = 0.35
    min_drop_baseline: float = 10.0
    new_pattern_min_count: int = 1
    error_rate_jump: float = 0.15
    error_z: float = 4.0
    min_errors: int = 5


@dataclass(frozen=True)
class Anomaly:
    kind: str
    pattern_id: str
    start_bucket: int
    end_bucket: int
    window_start: float
    window_end: float
    observed: float
    expected: float
    score: float
    confidence: float


def detect_anomalies(
    counts: Mapping[str, Sequence[int]],
    errors: Mapping[str, Sequence[int]] | None = None,
    *,
    start: float = 0.0,
    bucket_seconds: float = 3600.0,
    from_bucket: int = 0,
    config: AnomalyConfig | None = None,
) -> list[Anomaly]:
    """Scan buckets >= from_bucket of aligned per-pattern count series (and error counts); consecutive anomalous
    buckets of one kind and pattern are reported as one anomaly whose window spans them."""
    cfg = config or AnomalyConfig()
    found: list[Anomaly] = []
    for pattern_id in sorted(counts):
        series = counts[pattern_id]
        hits: list[_Hit] = []
        hits.extend(_rate_hits(series, cfg, from_bucket))
        hits.extend(_new_pattern_hits(series, cfg, from_bucket))
        if errors is not None and pattern_id in errors:
            hits.extend(_error_hits(series, errors[pattern_id], cfg, from_bucket))
        found.extend(_windows(pattern_id, hits, start, bucket_seconds))
    found.sort(key=lambda a: (a.start_bucket, a.pattern_id, a.kind))
    return found


def _baseline(series: Sequence[int], t: int, born: int, cfg: AnomalyConfig) -> tuple[float, float] | None:
    """Expected count at bucket t and its noise scale, from buckets since the pattern was first seen (`born`)."""
    history = [float(x) for x in series[max(born, t - cfg.history) : t]]
    if len(history) < cfg.min_history:
        return None
    expected = statistics.median(history)
    spread = _mad(history, expected)
    if cfg.season > 0:
        seasonal = [float(series[t - k * cfg.season]) for k in range(1, 9) if t - k * cfg.season >= born]
        if len(seasonal) >= cfg.min_seasons:
            # Same phase of earlier seasons gives the level and the spread; the whole-history spread would mostly
            # measure the seasonal swing itself.
            expected = statistics.median(seasonal)
            spread = _mad(seasonal, expected)
    # Counts are at least Poisson-noisy, and a few points under-estimate spread: floor it.
    scale = max(spread, math.sqrt(max(expected, 1.0)), cfg.relative_noise * expected)
    return expected, scale


def _mad(values: Sequence[float], center: float) -> float:
    return statistics.median(abs(x - center) for x in values) * 1.4826


def _confidence(excess: float) -> float:
    """Maps how far past its threshold a score is (0 = at the threshold) to (0.5, 1)."""
    return round(1.0 - 0.5 * math.exp(-max(excess, 0.0)), 4)


def _rate_hits(series: Sequence[int], cfg: AnomalyConfig, from_bucket: int) -> list[_Hit]:
    hits: list[_Hit] = []
    first_seen = next((i for i, x in enumerate(series) if x > 0), None)
    if first_seen is None:
        return hits
    for t in range(max(from_bucket, first_seen + cfg.min_history), len(series)):
        base = _baseline(series, t, first_seen, cfg)
        if base is None:
            continue
        expected, scale = base
        observed = float(series[t])
        z = (observed - expected) / scale
        if z >= cfg.spike_z and observed - expected >= cfg.min_spike_delta and observed >= cfg.spike_ratio * expected:
            hits.append((SPIKE, t, observed, expected, z, _confidence((z - cfg.spike_z) / cfg.spike_z * 3)))
        elif z <= -cfg.drop_z and expected >= cfg.min_drop_baseline and observed <= cfg.drop_ratio * expected:
            hits.append((DROP, t, observed, expected, z, _confidence((-z - cfg.drop_z) / cfg.drop_z * 3)))
    return hits


def _new_pattern_hits(series: Sequence[int], cfg: AnomalyConfig, from_bucket: int) -> list[_Hit]:
    first_seen = next((i for i, x in enumerate(series) if x > 0), None)
    if first_seen is None or first_seen < max(from_bucket, cfg.min_history):
        return []
    observed = float(series[first_seen])
    if observed < cfg.new_pattern_min_count:
        return []
    # More silent history and more lines make "this is new" more certain.
    excess = math.log1p(observed) * min(1.0, first_seen / cfg.history)
    return [(NEW_PATTERN, first_seen, observed, 0.0, observed, _confidence(excess))]


def _error_hits(series: Sequence[int], error_series: Sequence[int], cfg: AnomalyConfig, from_bucket: int) -> list[_Hit]:
    hits: list[_Hit] = []
    for t in range(max(from_bucket, cfg.min_history), min(len(series), len(error_series))):
        total = series[t]
        bad = error_series[t]
        if total <= 0 or bad < cfg.min_errors:
            continue
        past_total = sum(series[max(0, t - cfg.history) : t])
        past_bad = sum(error_series[max(0, t - cfg.history) : t])
        if past_total <= 0:
            continue
        base_rate = past_bad / past_total
        rate = bad / total
        # Binomial z with a floor on the base rate so a spotless history does not make one error look infinite.
        floor = max(base_rate, 1.0 / max(past_total, 1), 0.001)
        z = (rate - base_rate) / math.sqrt(floor * (1 - min(floor, 0.999)) / total)
        if rate - base_rate >= cfg.error_rate_jump and z >= cfg.error_z:
            hits.append((ERROR_RATE, t, rate, base_rate, z, _confidence((z - cfg.error_z) / cfg.error_z)))
    return hits


def _windows(
    pattern_id: str,
    hits: list[_Hit],
    start: float,
    bucket_seconds: float,
) -> list[Anomaly]:
    out: list[Anomaly] = []
    for kind, t, observed, expected, score, confidence in sorted(hits, key=lambda h: (h[0], h[1])):
        last = out[-1] if out else None
        if last is not None and last.kind == kind and last.end_bucket == t - 1 and kind != NEW_PATTERN:
            out[-1] = Anomaly(
                kind=kind,
                pattern_id=pattern_id,
                start_bucket=last.start_bucket,
                end_bucket=t,
                window_start=last.window_start,
                window_end=start + (t + 1) * bucket_seconds,
                observed=max(last.observed, observed) if kind in (SPIKE, ERROR_RATE) else min(last.observed, observed),
                expected=last.expected,
                score=max(last.score, score, key=abs),
                confidence=max(last.confidence, confidence),
            )
            continue
        out.append(
            Anomaly(
                kind=kind,
                pattern_id=pattern_id,
                start_bucket=t,
                end_bucket=t,
                window_start=start + t * bucket_seconds,
                window_end=start + (t + 1) * bucket_seconds,
                observed=observed,
                expected=expected,
                score=round(score, 4),
                confidence=confidence,
            )
        )
    return out
