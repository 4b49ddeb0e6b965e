"""Miner accuracy on the Loghub dev systems, stable ids across runs and persistence, matching and stats."""

from __future__ import annotations

import importlib.util
import statistics
import time
from functools import cache
from pathlib import Path

import pytest
from lipservice_sdk.signature import signature_of_key, template_key, template_matches

from patterns.engine.logformat import read_records
from patterns.engine.miner import Miner, MinerConfig
from patterns.engine.redaction import redact
from patterns.engine.scoring import GroupingScore, grouping_score
from tests.patterns.engine.loghub import DATASETS, DRAIN_TUNED_GA, SYSTEMS, load_system

pytestmark = pytest.mark.skipif(not DATASETS.exists(), reason="Loghub dev datasets are not on this machine")


@cache
def _mined(name: str) -> tuple[Miner, list[str], GroupingScore]:
    system = load_system(name)
    miner = Miner()
    keys = [miner.add(r.message, severity=r.level) for r in read_records(system.log_path, system.log_format)]
    miner.mine()
    labels = [miner.pattern_of_key(k) for k in keys]
    return miner, keys, grouping_score(system.truth, labels)


@pytest.mark.parametrize("name", SYSTEMS)
def test_grouping_accuracy_beats_tuned_drain(name: str) -> None:
    _, _, score = _mined(name)
    print(f"{name}: GA {score.ga:.3f} FGA {score.fga:.3f} (Drain tuned GA {DRAIN_TUNED_GA[name]})")
    assert score.ga >= DRAIN_TUNED_GA[name]


def test_mean_grouping_accuracy_meets_targets() -> None:
    scores = [_mined(name)[2] for name in SYSTEMS]
    mean_ga = statistics.mean(s.ga for s in scores)
    mean_fga = statistics.mean(s.fga for s in scores)
    print(f"mean GA {mean_ga:.4f} FGA {mean_fga:.4f}")
    assert mean_ga >= 0.98
    assert mean_fga >= 0.95


def test_scoring_agrees_with_reference_evaluator() -> None:
    tool = Path("/work/shared/tools/loghub_eval.py")
    if not tool.exists():
        pytest.skip("reference evaluator not available")
    spec = importlib.util.spec_from_file_location("loghub_eval", tool)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("Linux", "Proxifier"):
        miner, keys, ours = _mined(name)
        reference = module.grouping_metrics(load_system(name).truth, [miner.pattern_of_key(k) for k in keys])
        assert reference["GA"] == pytest.approx(ours.ga)
        assert reference["FGA"] == pytest.approx(ours.fga)


@pytest.mark.parametrize("name", SYSTEMS)
def test_every_template_matches_its_examples_and_keys(name: str) -> None:
    miner, keys, _ = _mined(name)
    system = load_system(name)
    sources: dict[str, list[str]] = {}
    for record in read_records(system.log_path, system.log_format):
        sources.setdefault(redact(record.message), []).append(record.message)
    for pattern in miner.patterns():
        assert pattern.examples
        for example in pattern.examples:
            # Examples are kept redacted: each is the redaction of a line that the template matches.
            assert any(template_matches(pattern.template, line) for line in sources[example]), (
                pattern.template,
                example,
            )
    for key in set(keys):
        assert miner.match_key(key) == miner.pattern_of_key(key)


def _lines(name: str) -> list[str]:
    system = load_system(name)
    return [r.message for r in read_records(system.log_path, system.log_format)]


@pytest.mark.parametrize("name", ["OpenSSH", "Hadoop", "Proxifier"])
def test_ids_stay_stable_across_incremental_runs_and_round_trips(name: str) -> None:
    lines = _lines(name)
    miner = Miner()
    miner.ingest(lines[:700])
    before = {k: miner.pattern_of_key(k) for k in map(template_key, lines[:700])}
    templates_before = {p.id for p in miner.patterns()}
    restored = Miner.from_dict(miner.to_dict())
    assert {k: restored.pattern_of_key(k) for k in before} == before
    miner.ingest(lines[700:1400])
    restored.ingest(lines[700:1400])
    restored = Miner.from_dict(restored.to_dict())
    restored.ingest(lines[1400:])
    miner.ingest(lines[1400:])
    assert {k: miner.pattern_of_key(k) for k in before} == before
    assert {k: restored.pattern_of_key(k) for k in before} == before
    assert templates_before <= {p.id for p in miner.patterns()}
    assert miner.to_dict() == restored.to_dict()


def test_batch_runs_are_deterministic() -> None:
    lines = _lines("Linux")
    first, second = Miner(), Miner()
    first.ingest(lines)
    second.ingest(list(reversed(lines)))
    assert {p.id: p.template for p in first.patterns()} == {p.id: p.template for p in second.patterns()}


def test_generalising_a_pattern_keeps_its_id() -> None:
    miner = Miner()
    miner.ingest(["User alice logged in from the web"])
    (only,) = miner.patterns()
    assert only.template == "User alice logged in from the web"
    miner.ingest([f"User {name} logged in from the web" for name in ("bob", "carol", "dave", "erin", "frank")])
    (generalised,) = miner.patterns()
    assert generalised.id == only.id
    assert generalised.template == "User <*> logged in from the web"
    assert generalised.count == 6


def test_new_lines_join_existing_patterns() -> None:
    miner = Miner()
    miner.ingest([f"Connected to 10.0.0.{i}:80 in {i}ms" for i in range(10)])
    (pattern,) = miner.patterns()
    assert miner.ingest(["Connected to 192.168.1.1:443 in 900ms"]) == []
    assert miner.pattern(pattern.id) is not None
    assert miner.pattern(pattern.id).count == 11  # type: ignore[union-attr]


def test_match_is_read_only() -> None:
    miner = Miner()
    miner.ingest([f"Worker {i} finished job {i * 7} in 3s" for i in range(20)])
    state = miner.to_dict()
    (pattern,) = miner.patterns()
    assert miner.match("Worker 99 finished job 12 in 4s") == pattern.id
    assert miner.match("something else entirely") is None
    assert miner.to_dict() == state


def test_pushed_down_key_counts_mine_like_raw_lines() -> None:
    lines = _lines("OpenSSH")
    raw = Miner()
    raw.ingest(lines)
    counted = Miner()
    tally: dict[str, int] = {}
    for line in lines:
        key = template_key(line)
        tally[key] = tally.get(key, 0) + 1
    for key, count in tally.items():
        counted.add_key_counts(key, count, count * 100, severities={"INFO": count})
    counted.mine()
    assert {p.template: p.count for p in raw.patterns()} == {p.template: p.count for p in counted.patterns()}
    assert sum(p.bytes for p in counted.patterns()) == 100 * len(lines)


def test_pattern_stats_track_severity_time_examples_and_signatures() -> None:
    miner = Miner(MinerConfig(max_signatures=2))
    for i, level in enumerate(["info", "ERROR", "warning", "E"]):
        miner.add(f"disk sd{'abcd'[i]} 9{i}% full on host-{i}", severity=level, timestamp=1000.0 + i)
    miner.mine()
    (pattern,) = miner.patterns()
    assert pattern.severities == {"INFO": 1, "ERROR": 2, "WARN": 1}
    assert (pattern.first_seen, pattern.last_seen) == (1000.0, 1003.0)
    assert len(pattern.examples) == 3
    assert len(pattern.signatures) == 2
    assert pattern.signatures[0] in {signature_of_key(template_key(e)) for e in pattern.examples}


def test_similar_ranks_patterns_by_shared_words() -> None:
    miner = Miner()
    miner.ingest(
        [f"session opened for user u{i} by uid {i}" for i in range(8)]
        + [f"session closed for user u{i}" for i in range(8)]
        + [f"disk {i} is full" for i in range(8)]
    )
    opened = next(p for p in miner.patterns() if "opened" in p.template)
    closed = next(p for p in miner.patterns() if "closed" in p.template)
    ranked = miner.similar(opened.id, k=2)
    assert ranked[0][0] == closed.id
    assert ranked[0][1] > ranked[1][1]
    assert miner.similar("session closed for user <*>", k=1)[0][0] == closed.id


def test_from_dict_rejects_unknown_versions() -> None:
    with pytest.raises(ValueError, match="version"):
        Miner.from_dict({"version": 99})


def test_id_lists_of_any_length_are_one_pattern_and_mined_fast() -> None:
    lines = [
        f"BLOCK* ask 10.0.0.{i}:50010 to delete " + " ".join(f"blk_{j * 7919 + i}" for j in range(n))
        for i, n in enumerate(range(1, 300, 3))
    ]
    miner = Miner()
    started = time.perf_counter()
    miner.ingest(lines)
    assert time.perf_counter() - started < 2
    (pattern,) = miner.patterns()
    assert pattern.template == "BLOCK* ask <IP> to delete blk_<NUM> <*>"
    assert all(template_matches(pattern.template, line) for line in lines)


def test_add_many_counts_like_add() -> None:
    lines = _lines("HealthApp")
    one, many = Miner(), Miner()
    for line in lines:
        one.add(line)
    one.mine()
    many.add_many(lines)
    many.mine()
    assert [(p.id, p.count, p.bytes, p.severities) for p in one.patterns()] == [
        (p.id, p.count, p.bytes, p.severities) for p in many.patterns()
    ]


def test_a_wildcard_led_template_is_found_among_many_patterns() -> None:
    miner = Miner()
    for i in range(300):
        miner.add(f"job{chr(97 + i % 26)}{chr(97 + i // 26)} finished step{chr(97 + i % 7)} cleanly")
    miner.add("alice opened session for reader")
    miner.add("bob opened session for reader")
    miner.add("carol opened session for reader")
    miner.add("dave opened session for reader")
    miner.mine()
    wildcard = miner.match("erin opened session for reader")
    assert wildcard is not None
    pattern = miner.pattern(wildcard)
    assert pattern is not None and pattern.template.startswith("<*> opened session")
    assert miner.match("erin closed session for reader") is None
