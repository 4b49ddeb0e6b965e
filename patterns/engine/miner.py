"""Incremental pattern miner over template keys: stable pattern ids, per-pattern stats, matching, persistence."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from lipservice_sdk.severity import normalize_severity
from lipservice_sdk.signature import MAX_MESSAGE_CHARS, signature_of_key, template_key, template_matches_key

from patterns.engine.clustering import WILDCARD, ClusterConfig, cluster_keys, is_parameter_like, template_of_keys
from patterns.engine.redaction import redact, redact_key

STATE_VERSION = 1
SAMPLE_KEYS = 16  # member keys per pattern that later batches are clustered with


@dataclass(frozen=True)
class MinerConfig:
    variable_threshold: int = 4
    path_threshold: int = 2
    max_gap: int = 3
    max_examples: int = 3
    max_signatures: int = 64
    max_keys: int = 200_000
    max_example_chars: int = MAX_MESSAGE_CHARS
    match_cache_size: int = 65_536
    long_tail_share: float = 0.95

    def cluster_config(self) -> ClusterConfig:
        return ClusterConfig(
            variable_threshold=self.variable_threshold,
            path_threshold=self.path_threshold,
            max_gap=self.max_gap,
            long_tail_share=self.long_tail_share,
        )


@dataclass
class KeyStats:
    count: int = 0
    bytes: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    severities: dict[str, int] = field(default_factory=dict)
    example: str | None = None
    pattern_id: str | None = None


@dataclass
class Pattern:
    id: str
    template: str
    count: int = 0
    bytes: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    severities: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    key_count: int = 0
    created_template: str = ""


class Miner:
    """Feed lines (add) or pre-counted keys (add_key_counts), then mine() to (re)cluster keys not yet in a pattern.

    Ids are fixed when a pattern is created (a hash of its first template) and kept through later
    generalisation, mine() calls and to_dict/from_dict round trips; patterns are never merged or split afterwards.
    """

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self._keys: dict[str, KeyStats] = {}
        self._patterns: dict[str, Pattern] = {}
        self._pending: set[str] = set()
        self._match_cache: OrderedDict[str, str | None] = OrderedDict()
        # Keys and examples are kept only redacted (they are stored); raw keys that redaction changed map here.
        self._aliases: dict[str, str] = {}
        self._offered: dict[str, set[str]] = {}
        self._raw_examples: set[str] = set()
        self._by_literal: dict[str, list[Pattern]] = {}
        self._open: list[Pattern] = []
        self._literals: dict[str, frozenset[str]] = {}
        self._specificity: dict[str, int] = {}
        self._samples: dict[str, list[str]] = {}
        self._index_size = -1
        self._index_stale = True

    # ingestion

    def add(
        self,
        message: str,
        *,
        severity: str | int | None = None,
        timestamp: float | None = None,
        size: int | None = None,
    ) -> str:
        """Count one raw line; returns its (redacted) template key."""
        key = self._stored_key(template_key(message))
        level = normalize_severity(severity)
        self._add_stored(
            key,
            1,
            (len(message) if message.isascii() else len(message.encode("utf-8", "replace"))) if size is None else size,
            first_seen=timestamp,
            last_seen=timestamp,
            severities={level: 1},
            example=message,
        )
        return key

    def add_many(self, messages: Iterable[str], *, severity: str | int | None = None) -> int:
        """Count many raw lines of one severity with no timestamps: mask, count per key, then record per key."""
        counts: dict[str, int] = {}
        sizes: dict[str, int] = {}
        examples: dict[str, str] = {}
        key_of = template_key
        lines = 0
        for message in messages:
            key = key_of(message)
            size = len(message) if message.isascii() else len(message.encode("utf-8", "replace"))
            seen = counts.get(key)
            if seen is None:
                counts[key] = 1
                sizes[key] = size
                examples[key] = message
            else:
                counts[key] = seen + 1
                sizes[key] += size
            lines += 1
        level = normalize_severity(severity)
        for key, count in counts.items():
            self.add_key_counts(key, count, sizes[key], severities={level: count}, example=examples[key])
        return lines

    def add_key_counts(
        self,
        key: str,
        count: int,
        size: int = 0,
        *,
        first_seen: float | None = None,
        last_seen: float | None = None,
        severities: Mapping[str, int] | None = None,
        example: str | None = None,
        redacted: str | None = None,
    ) -> None:
        """Record `count` lines (`size` bytes) of an already masked key, e.g. a ClickHouse GROUP BY row.

        `redacted`, when given, is redact_key(key) worked out by the caller (mine_file's readers do it in parallel)."""
        self._add_stored(
            self._stored_key(key, redacted),
            count,
            size,
            first_seen=first_seen,
            last_seen=last_seen,
            severities=severities,
            example=example,
        )

    def _stored_key(self, key: str, redacted: str | None = None) -> str:
        if key in self._keys:
            return key
        alias = self._aliases.get(key)
        if alias is not None:
            return alias
        stored = redact_key(key) if redacted is None else redacted
        if stored != key:
            if len(self._aliases) >= self.config.match_cache_size:
                self._aliases.clear()
            self._aliases[key] = stored
        return stored

    def _add_stored(
        self,
        key: str,
        count: int,
        size: int = 0,
        *,
        first_seen: float | None = None,
        last_seen: float | None = None,
        severities: Mapping[str, int] | None = None,
        example: str | None = None,
    ) -> None:
        if count <= 0:
            return
        stats = self._keys.get(key)
        if stats is None:
            stats = self._keys[key] = KeyStats()
            self._pending.add(key)
            self._match_cache.pop(key, None)
        stats.count += count
        stats.bytes += size
        stats.first_seen = _earliest(stats.first_seen, first_seen)
        stats.last_seen = _latest(stats.last_seen, last_seen)
        for level, n in (severities or {"INFO": count}).items():
            name = normalize_severity(level)
            stats.severities[name] = stats.severities.get(name, 0) + n
        if example is not None and stats.example is None:
            # Redacted when it is first used or stored, so a key whose example is never kept costs no redaction.
            stats.example = example[: self.config.max_example_chars]
            self._raw_examples.add(key)
        if stats.pattern_id is not None:
            pattern = self._patterns[stats.pattern_id]
            _accumulate(pattern, count, size, first_seen, last_seen, severities or {"INFO": count})
            if example is not None and len(pattern.examples) < self.config.max_examples:
                self._offer_example(pattern, example[: self.config.max_example_chars])

    def _offer_example(self, pattern: Pattern, raw: str) -> None:
        """Redacts a candidate example once per distinct raw text (and at most a few times per pattern)."""
        offered = self._offered.setdefault(pattern.id, set())
        if raw in offered or len(offered) >= 4 * self.config.max_examples:
            return
        offered.add(raw)
        cut = redact(raw)
        if cut not in pattern.examples:
            pattern.examples.append(cut)
        if len(pattern.examples) >= self.config.max_examples:
            del self._offered[pattern.id]

    # mining

    def mine(self) -> list[str]:
        """Assign every pending key to a pattern; returns the ids of patterns created by this call."""
        if not self._pending:
            return []
        unmatched = []
        for key in sorted(self._pending):
            found = self._match_existing(key)
            if found is None:
                unmatched.append(key)
            else:
                self._assign(key, found)
        self._pending.clear()
        created: list[str] = []
        touched: set[str] = set()
        if unmatched:
            new_keys = set(unmatched)
            # The new keys are clustered with a few member keys of each existing pattern, not with every key seen:
            # enough to join a pattern they belong to, and a batch costs what it holds, not what came before it.
            counts = {k: self._keys[k].count for k in unmatched}
            for sample in self._samples.values():
                for key in sample:
                    if key in self._keys:
                        counts[key] = self._keys[key].count
            for cluster in cluster_keys(counts, self.config.cluster_config()):
                fresh = [k for k in cluster.keys if k in new_keys]
                if not fresh:
                    continue
                owners = sorted({self._keys[k].pattern_id or "" for k in cluster.keys if k not in new_keys} - {""})
                if not owners:
                    # A cluster of new keys only already carries their template.
                    template = cluster.template if len(fresh) == len(cluster.keys) else template_of_keys(fresh)
                    pattern_id = self._create(template)
                    created.append(pattern_id)
                    for key in fresh:
                        self._assign(key, pattern_id)
                    continue
                for key in fresh:
                    owner = self._closest_owner(key, owners)
                    self._assign(key, owner)
                    touched.add(owner)
        if touched:
            members: dict[str, list[str]] = {pattern_id: [] for pattern_id in touched}
            for key, stats in self._keys.items():
                if stats.pattern_id in members:
                    members[stats.pattern_id].append(key)
            for pattern_id, keys in members.items():
                self._regeneralise(pattern_id, keys)
        self._match_cache.clear()
        self._evict_keys()
        return created

    def ingest(self, messages: Iterable[str]) -> list[str]:
        self.add_many(messages)
        return self.mine()

    # reading

    def patterns(self) -> list[Pattern]:
        return [
            replace(p, severities=dict(p.severities), examples=list(p.examples), signatures=list(p.signatures))
            for p in sorted(self._patterns.values(), key=lambda p: (-p.count, p.id))
        ]

    def pattern(self, pattern_id: str) -> Pattern | None:
        found = self._patterns.get(pattern_id)
        if found is None:
            return None
        return replace(
            found, severities=dict(found.severities), examples=list(found.examples), signatures=list(found.signatures)
        )

    def pattern_of_key(self, key: str) -> str | None:
        stats = self._keys.get(self._stored_key(key))
        return None if stats is None else stats.pattern_id

    def match(self, message: str) -> str | None:
        """The pattern id a message belongs to, without recording anything; None when no pattern covers it."""
        return self.match_key(template_key(message))

    def match_key(self, key: str) -> str | None:
        key = self._stored_key(key)
        stats = self._keys.get(key)
        if stats is not None and stats.pattern_id is not None:
            return stats.pattern_id
        if key in self._match_cache:
            self._match_cache.move_to_end(key)
            return self._match_cache[key]
        found = self._match_existing(key)
        self._match_cache[key] = found
        if len(self._match_cache) > self.config.match_cache_size:
            self._match_cache.popitem(last=False)
        return found

    def similar(self, pattern_id_or_template: str, k: int = 5) -> list[tuple[str, float]]:
        """Up to k other patterns ranked by similarity (Jaccard over constant tokens, then token-count closeness)."""
        source = self._patterns.get(pattern_id_or_template)
        template = source.template if source is not None else pattern_id_or_template
        words = _anchor_words(template)
        size = len(template.split())
        scored = []
        for pattern in self._patterns.values():
            if source is not None and pattern.id == source.id:
                continue
            other = _anchor_words(pattern.template)
            union = words | other
            jaccard = len(words & other) / len(union) if union else 1.0
            length = 1.0 / (1.0 + abs(size - len(pattern.template.split())))
            scored.append((pattern.id, round(0.9 * jaccard + 0.1 * length, 6)))
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored[:k]

    # persistence

    def _key_example(self, key: str, stats: KeyStats) -> str | None:
        if key in self._raw_examples:
            self._raw_examples.discard(key)
            stats.example = None if stats.example is None else redact(stats.example)
        return stats.example

    def to_dict(self) -> dict[str, Any]:
        for key in list(self._raw_examples):
            stats = self._keys.get(key)
            if stats is None:
                self._raw_examples.discard(key)
            else:
                self._key_example(key, stats)
        return {
            "version": STATE_VERSION,
            "redacted": True,
            "config": {f.name: getattr(self.config, f.name) for f in fields(self.config)},
            "patterns": [_pattern_to_dict(p) for p in sorted(self._patterns.values(), key=lambda p: p.id)],
            "keys": [
                {
                    "key": key,
                    "count": s.count,
                    "bytes": s.bytes,
                    "first_seen": s.first_seen,
                    "last_seen": s.last_seen,
                    "severities": dict(s.severities),
                    "example": s.example,
                    "pattern_id": s.pattern_id,
                }
                for key, s in sorted(self._keys.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Miner:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported miner state version {data.get('version')!r}")
        known = {f.name for f in fields(MinerConfig)}
        miner = cls(MinerConfig(**{k: v for k, v in dict(data.get("config", {})).items() if k in known}))
        for row in data.get("patterns", []):
            pattern = Pattern(
                id=str(row["id"]),
                template=str(row["template"]),
                count=int(row["count"]),
                bytes=int(row["bytes"]),
                first_seen=row.get("first_seen"),
                last_seen=row.get("last_seen"),
                severities={str(k): int(v) for k, v in dict(row.get("severities", {})).items()},
                examples=[str(e) for e in row.get("examples", [])],
                signatures=[str(s) for s in row.get("signatures", [])],
                key_count=int(row.get("key_count", 0)),
                created_template=str(row.get("created_template", row["template"])),
            )
            miner._patterns[pattern.id] = pattern
        for row in data.get("keys", []):
            pattern_id = row.get("pattern_id")
            if pattern_id is not None and pattern_id not in miner._patterns:
                pattern_id = None
            stats = KeyStats(
                count=int(row["count"]),
                bytes=int(row["bytes"]),
                first_seen=row.get("first_seen"),
                last_seen=row.get("last_seen"),
                severities={str(k): int(v) for k, v in dict(row.get("severities", {})).items()},
                example=row.get("example"),
                pattern_id=pattern_id,
            )
            miner._keys[str(row["key"])] = stats
            if pattern_id is not None:
                miner._remember(str(row["key"]), pattern_id)
            if pattern_id is None:
                miner._pending.add(str(row["key"]))
        if not data.get("redacted"):
            miner._redact_loaded()
        return miner

    def _redact_loaded(self) -> None:
        """A state saved before keys and examples were redacted: redact them now, merging keys that become one."""
        for pattern in self._patterns.values():
            pattern.examples = list(dict.fromkeys(redact(e) for e in pattern.examples))
            pattern.template = redact_key(pattern.template)
            pattern.created_template = redact_key(pattern.created_template)
        merged: dict[str, KeyStats] = {}
        for key, stats in self._keys.items():
            if stats.example is not None:
                stats.example = redact(stats.example)
            stored = redact_key(key)
            into = merged.get(stored)
            if into is None:
                merged[stored] = stats
                continue
            into.count += stats.count
            into.bytes += stats.bytes
            into.first_seen = _earliest(into.first_seen, stats.first_seen)
            into.last_seen = _latest(into.last_seen, stats.last_seen)
            for level, n in stats.severities.items():
                into.severities[level] = into.severities.get(level, 0) + n
            into.pattern_id = into.pattern_id or stats.pattern_id
        self._keys = merged
        self._pending = {key for key, stats in merged.items() if stats.pattern_id is None}
        self._index_stale = True

    # internals

    def _create(self, template: str) -> str:
        base = hashlib.sha256(("pattern\x00" + template).encode("utf-8", "replace")).hexdigest()[:16]
        pattern_id = base
        suffix = 1
        while pattern_id in self._patterns:
            pattern_id = hashlib.sha256(f"pattern\x00{template}\x00{suffix}".encode()).hexdigest()[:16]
            suffix += 1
        self._patterns[pattern_id] = Pattern(id=pattern_id, template=template, created_template=template)
        return pattern_id

    def _assign(self, key: str, pattern_id: str) -> None:
        stats = self._keys[key]
        stats.pattern_id = pattern_id
        self._remember(key, pattern_id)
        pattern = self._patterns[pattern_id]
        _accumulate(pattern, stats.count, stats.bytes, stats.first_seen, stats.last_seen, stats.severities)
        pattern.key_count += 1
        if stats.example is not None and len(pattern.examples) < self.config.max_examples:
            example = self._key_example(key, stats)
            if example is not None and example not in pattern.examples:
                pattern.examples.append(example)
        if WILDCARD in key:
            # A redacted key: no SDK computes its signature; the template (with its wildcard) matches those lines.
            return
        signature = signature_of_key(key)
        if len(pattern.signatures) < self.config.max_signatures and signature not in pattern.signatures:
            pattern.signatures.append(signature)

    def _remember(self, key: str, pattern_id: str) -> None:
        sample = self._samples.setdefault(pattern_id, [])
        if len(sample) < SAMPLE_KEYS:
            sample.append(key)

    def _match_existing(self, key: str) -> str | None:
        if not self._patterns:
            return None
        best: tuple[int, str] | None = None
        if self._index_size != len(self._patterns) or self._index_stale:
            self._rebuild_index()
        present = set(key.split(" "))
        literals = self._literals
        by_literal = self._by_literal
        # Every literal token of a template must be in the key, so a template can match only when its rarest
        # literal is one of the key's tokens: the candidates are a few buckets, however many patterns there are.
        candidates = [p for token in present for p in by_literal.get(token, ())]
        candidates.extend(self._open)
        for pattern in candidates:
            if literals[pattern.id] <= present and template_matches_key(pattern.template, key):
                # Prefer the most specific template: the one with the most literal tokens.
                rank = (self._specificity[pattern.id], pattern.id)
                if best is None or rank < best:
                    best = rank
        return None if best is None else best[1]

    def _rebuild_index(self) -> None:
        self._literals = {
            p.id: frozenset(t for t in p.template.split() if WILDCARD not in t) for p in self._patterns.values()
        }
        self._specificity = {
            p.id: -sum(1 for t in p.template.split() if t != WILDCARD) for p in self._patterns.values()
        }
        frequency: dict[str, int] = {}
        for words in self._literals.values():
            for word in words:
                frequency[word] = frequency.get(word, 0) + 1
        self._by_literal = {}
        self._open = []
        for pattern in sorted(self._patterns.values(), key=lambda p: p.id):
            words = self._literals[pattern.id]
            if not words:
                self._open.append(pattern)
                continue
            rarest = min(words, key=lambda w: (frequency[w], w))
            self._by_literal.setdefault(rarest, []).append(pattern)
        self._index_size = len(self._patterns)
        self._index_stale = False

    def _closest_owner(self, key: str, owners: list[str]) -> str:
        tokens = key.split(" ")

        def score(pattern_id: str) -> tuple[float, str]:
            template = self._patterns[pattern_id].template.split()
            same = sum(1 for a, b in zip(template, tokens, strict=False) if a in (b, WILDCARD))
            return (-same / max(len(template), len(tokens)), pattern_id)

        return min(owners, key=score)

    def _regeneralise(self, pattern_id: str, members: list[str]) -> None:
        if not members:
            return
        pattern = self._patterns[pattern_id]
        template = template_of_keys(sorted(members))
        if not all(template_matches_key(template, k) for k in members):
            template = WILDCARD
        pattern.template = template
        self._index_stale = True

    def _evict_keys(self) -> None:
        excess = len(self._keys) - self.config.max_keys
        if excess <= 0:
            return
        # Pattern totals already include evicted keys; only rare keys leave, and they re-enter as new keys.
        assigned = sorted((s.count, k) for k, s in self._keys.items() if s.pattern_id is not None)
        for _, key in assigned[:excess]:
            del self._keys[key]
            self._raw_examples.discard(key)


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _accumulate(
    pattern: Pattern,
    count: int,
    size: int,
    first_seen: float | None,
    last_seen: float | None,
    severities: Mapping[str, int],
) -> None:
    pattern.count += count
    pattern.bytes += size
    pattern.first_seen = _earliest(pattern.first_seen, first_seen)
    pattern.last_seen = _latest(pattern.last_seen, last_seen)
    for level, n in severities.items():
        name = normalize_severity(level)
        pattern.severities[name] = pattern.severities.get(name, 0) + n


def _anchor_words(template: str) -> set[str]:
    return {t for t in template.split() if t != WILDCARD and not is_parameter_like(t)}


def _pattern_to_dict(pattern: Pattern) -> dict[str, Any]:
    return {
        "id": pattern.id,
        "template": pattern.template,
        "count": pattern.count,
        "bytes": pattern.bytes,
        "first_seen": pattern.first_seen,
        "last_seen": pattern.last_seen,
        "severities": dict(pattern.severities),
        "examples": list(pattern.examples),
        "signatures": list(pattern.signatures),
        "key_count": pattern.key_count,
        "created_template": pattern.created_template,
    }
