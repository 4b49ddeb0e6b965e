"""Rate anomalies on a seeded synthetic stream: injected spikes, drops, new patterns and error bursts are found."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from patterns.engine.anomaly import DROP, ERROR_RATE, NEW_PATTERN, SPIKE, Anomaly, AnomalyConfig, detect_anomalies

DAY = 24
DAYS = 14
WARMUP = 3 * DAY


@dataclass(frozen=True)
class Injection:
    kind: str
    pattern_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Stream:
    counts: dict[str, list[int]]
    errors: dict[str, list[int]]
    injections: list[Injection]


def _stream(seed: int) -> Stream:
    rng = np.random.default_rng(seed)
    buckets = DAY * DAYS
    hours = np.arange(buckets)
    counts: dict[str, list[int]] = {}
    errors: dict[str, list[int]] = {}
    injections: list[Injection] = []
    busy: dict[str, set[int]] = {}
    for p in range(40):
        pid = f"p{p:02d}"
        base = float(np.exp(rng.uniform(np.log(20), np.log(2000))))
        rate = base * (1 + 0.5 * np.sin(2 * np.pi * hours / DAY + rng.uniform(0, 2 * np.pi)))
        error_share = np.full(buckets, rng.uniform(0.0, 0.02))
        busy[pid] = set()

        def free(start: int, length: int, pid: str = pid) -> bool:
            return all(t not in busy[pid] for t in range(start - 3, start + length + 3))

        for kind, n in ((SPIKE, 1), (DROP, 1), (ERROR_RATE, 1)):
            for _ in range(n):
                length = int(rng.integers(1, 3))
                start = int(rng.integers(WARMUP, buckets - length))
                if not free(start, length):
                    continue
                busy[pid].update(range(start, start + length))
                if kind == SPIKE:
                    rate[start : start + length] *= rng.uniform(4, 10)
                elif kind == DROP:
                    rate[start : start + length] *= rng.uniform(0.0, 0.15)
                else:
                    error_share[start : start + length] = rng.uniform(0.3, 0.6)
                injections.append(Injection(kind, pid, start, start + length - 1))
        series = rng.poisson(rate)
        counts[pid] = [int(x) for x in series]
        errors[pid] = [int(x) for x in rng.binomial(series, error_share)]
    for p in range(10):
        pid = f"new{p:02d}"
        start = int(rng.integers(WARMUP, buckets - 1))
        rate = np.where(hours >= start, float(rng.uniform(5, 500)), 0.0)
        series = rng.poisson(rate)
        series[start] = max(int(series[start]), 1)
        counts[pid] = [int(x) for x in series]
        errors[pid] = [0] * buckets
        busy[pid] = {start}
        injections.append(Injection(NEW_PATTERN, pid, start, start))
    return Stream(counts, errors, injections)


def _covers(anomaly: Anomaly, injection: Injection) -> bool:
    return (
        anomaly.kind == injection.kind
        and anomaly.pattern_id == injection.pattern_id
        and anomaly.start_bucket <= injection.end + 1
        and anomaly.end_bucket >= injection.start - 1
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_injected_anomalies_are_found_with_few_false_alarms(seed: int) -> None:
    stream = _stream(seed)
    anomalies = detect_anomalies(
        stream.counts, stream.errors, bucket_seconds=3600, from_bucket=WARMUP, config=AnomalyConfig(season=DAY)
    )
    found = sum(1 for inj in stream.injections if any(_covers(a, inj) for a in anomalies))
    recall = found / len(stream.injections)
    near = {(i.pattern_id, t) for i in stream.injections for t in range(i.start - 1, i.end + 2)}
    quiet = [
        (pid, t) for pid, series in stream.counts.items() for t in range(WARMUP, len(series)) if (pid, t) not in near
    ]
    flagged = {(a.pattern_id, t) for a in anomalies for t in range(a.start_bucket, a.end_bucket + 1)}
    false_alarms = sum(1 for window in quiet if window in flagged) / len(quiet)
    print(f"seed {seed}: recall {recall:.3f} ({found}/{len(stream.injections)}), false alarms {false_alarms:.4f}")
    assert recall >= 0.9
    assert false_alarms < 0.05


def test_each_anomaly_has_a_window_and_a_confidence() -> None:
    stream = _stream(4)
    anomalies = detect_anomalies(stream.counts, stream.errors, start=1000.0, bucket_seconds=60, from_bucket=WARMUP)
    assert anomalies
    for anomaly in anomalies:
        assert 0.5 <= anomaly.confidence <= 1.0
        assert anomaly.window_end - anomaly.window_start == (anomaly.end_bucket - anomaly.start_bucket + 1) * 60
        assert anomaly.window_start == 1000.0 + anomaly.start_bucket * 60


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        ([100] * 30 + [900] + [100] * 5, SPIKE),
        ([100] * 30 + [2] + [100] * 5, DROP),
        ([0] * 30 + [7] * 6, NEW_PATTERN),
    ],
)
def test_single_series_anomaly_kinds(series: list[int], kind: str) -> None:
    anomalies = detect_anomalies({"p": series})
    assert [a.kind for a in anomalies] == [kind]
    assert anomalies[0].start_bucket == 30


def test_flat_series_has_no_anomaly() -> None:
    assert detect_anomalies({"p": [50, 52, 49, 51, 50, 48, 53, 50] * 6}, {"p": [0, 1] * 24}) == []


def test_error_rate_jump_is_reported() -> None:
    counts = {"p": [200] * 40}
    errors = {"p": [2] * 30 + [90] + [2] * 9}
    anomalies = detect_anomalies(counts, errors)
    assert [(a.kind, a.start_bucket) for a in anomalies] == [(ERROR_RATE, 30)]
    assert anomalies[0].observed == pytest.approx(0.45)
