"""The seam between mining and policy work: turn records plus their pattern assignment into PatternStats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lipservice_sdk.severity import normalize_severity
from lipservice_sdk.signature import signature, template_key

from patterns.engine.miner import Miner, MinerConfig
from policies.engine.simulator import ReplayLine
from policies.engine.stats import PatternStats

MAX_EXAMPLES = 5


@dataclass
class _Acc:
    template: str
    count: int = 0
    bytes: int = 0
    severities: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    signatures: dict[str, None] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None


def stats_from_assignment(
    *, records: Sequence[ReplayLine], pattern_ids: Sequence[str], templates: Mapping[str, str]
) -> list[PatternStats]:
    """One PatternStats per pattern id, in order of first appearance."""
    accs: dict[str, _Acc] = {}
    for record, pattern_id in zip(records, pattern_ids, strict=True):
        acc = accs.get(pattern_id)
        if acc is None:
            acc = accs[pattern_id] = _Acc(templates.get(pattern_id, template_key(record.message)))
        acc.count += 1
        acc.bytes += record.size
        level = normalize_severity(record.severity)
        acc.severities[level] = acc.severities.get(level, 0) + 1
        if len(acc.examples) < MAX_EXAMPLES and record.message not in acc.examples:
            acc.examples.append(record.message)
        acc.signatures[signature(record.message)] = None
        if record.timestamp is not None:
            acc.first = record.timestamp if acc.first is None else min(acc.first, record.timestamp)
            acc.last = record.timestamp if acc.last is None else max(acc.last, record.timestamp)
    return [
        PatternStats(
            id=pattern_id,
            template=acc.template,
            count=acc.count,
            bytes=acc.bytes,
            severity_counts=dict(acc.severities),
            examples=tuple(acc.examples),
            signatures=tuple(acc.signatures),
            first_seen=acc.first,
            last_seen=acc.last,
        )
        for pattern_id, acc in accs.items()
    ]


def assign_by_template_key(records: Sequence[ReplayLine]) -> tuple[list[str], dict[str, str]]:
    """The finest grouping, one pattern per masked template key: what the policy sees before any miner runs."""
    ids: list[str] = []
    templates: dict[str, str] = {}
    for record in records:
        key = template_key(record.message)
        pattern_id = signature(record.message)
        templates.setdefault(pattern_id, key)
        ids.append(pattern_id)
    return ids, templates


def mine_records(records: Sequence[ReplayLine], *, config: MinerConfig | None = None) -> list[PatternStats]:
    """Mine the records with the shared miner and summarise each pattern as the policy engine needs it."""
    miner = Miner(config)
    for record in records:
        miner.add(record.message, severity=record.severity, timestamp=record.timestamp, size=record.size)
    miner.mine()
    return [
        PatternStats(
            id=pattern.id,
            template=pattern.template,
            count=pattern.count,
            bytes=pattern.bytes,
            severity_counts=dict(pattern.severities),
            examples=tuple(pattern.examples),
            signatures=tuple(pattern.signatures),
            first_seen=pattern.first_seen,
            last_seen=pattern.last_seen,
            key_count=pattern.key_count,
        )
        for pattern in miner.patterns()
    ]
