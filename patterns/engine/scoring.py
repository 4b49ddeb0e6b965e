"""Loghub grouping metrics: GA (lines whose predicted group is exactly their true group) and FGA (F1 over groups)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupingScore:
    lines: int
    true_groups: int
    predicted_groups: int
    correct_groups: int
    ga: float
    fga: float


def grouping_score(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> GroupingScore:
    if len(truth) != len(predicted):
        raise ValueError(f"length mismatch: {len(truth)} true labels, {len(predicted)} predicted")
    if not truth:
        raise ValueError("no lines to score")
    true_size = Counter(truth)
    predicted_size = Counter(predicted)
    predicted_of: dict[Hashable, set[Hashable]] = defaultdict(set)
    for t, p in zip(truth, predicted, strict=True):
        predicted_of[t].add(p)
    correct_lines = 0
    correct_groups = 0
    for t, labels in predicted_of.items():
        if len(labels) == 1 and predicted_size[next(iter(labels))] == true_size[t]:
            correct_lines += true_size[t]
            correct_groups += 1
    precision = correct_groups / len(predicted_size)
    recall = correct_groups / len(true_size)
    fga = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return GroupingScore(
        lines=len(truth),
        true_groups=len(true_size),
        predicted_groups=len(predicted_size),
        correct_groups=correct_groups,
        ga=correct_lines / len(truth),
        fga=fga,
    )
