"""`simulate_policy` on the Loghub dev systems: every error and every true template kept at the asked reduction."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from lipservice_sdk.severity import ALWAYS_KEPT, normalize_severity

from policies.engine.plan_replay import plan_and_replay
from policies.engine.pricing import flat_pricing
from policies.engine.records import records_from_file
from policies.engine.rules import ReductionTarget
from tests.conftest import service_unavailable
from tests.patterns.engine.loghub import DATASETS

LOGHUB = DATASETS
LEVELLED = ["BGL", "HDFS", "Hadoop", "Spark"]
UNLEVELLED = ["Linux", "HealthApp", "OpenSSH", "Proxifier"]  # Linux's Level column is "combo" for every line
TARGET = 0.8


def _run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("simulate_policy", str(path), *args, stdout=out)
    return out.getvalue()


def _replay_system(system: str, tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, str]], dict[int, bool]]:
    folder = LOGHUB / system
    if not folder.is_dir():
        service_unavailable("Loghub development data", str(folder))
    log_format = json.loads((folder / "format.json").read_text())["log_format"]
    decisions = tmp_path / "decisions.csv"
    output = _run(
        folder / f"{system}_2k.log",
        "--log-format", log_format,
        "--target-reduction", str(TARGET),
        "--window-seconds", "0",
        "--decisions", str(decisions),
        "--json",
    )  # fmt: skip
    report = json.loads(output)["report"]
    with (folder / f"{system}_2k.log_structured_corrected.csv").open(newline="") as handle:
        truth = list(csv.DictReader(handle))
    with decisions.open(newline="") as handle:
        kept = {int(row["LineId"]): row["Kept"] == "1" for row in csv.DictReader(handle)}
    return report, truth, kept


def _lost_templates(truth: list[dict[str, str]], kept: dict[int, bool]) -> list[str]:
    lines_of: dict[str, list[int]] = defaultdict(list)
    for row in truth:
        lines_of[row["EventTemplate"]].append(int(row["LineId"]))
    return sorted(t for t, ids in lines_of.items() if not any(kept[i] for i in ids))


def _max_reduction(truth: list[dict[str, str]]) -> float:
    """1 - (errors + one line for each true template that no error line already represents) / total."""
    errors = {int(r["LineId"]) for r in truth if normalize_severity(r.get("Level")) in ALWAYS_KEPT}
    templates = {r["EventTemplate"] for r in truth}
    covered = {r["EventTemplate"] for r in truth if int(r["LineId"]) in errors}
    return 1.0 - (len(errors) + len(templates - covered)) / len(truth)


def _describe(system: str, report: dict[str, Any], truth: list[dict[str, str]], lost: list[str]) -> str:
    ceiling = min(TARGET, _max_reduction(truth))
    return (
        f"\n{system}: line reduction {report['reduction_lines']:.3f} (bytes {report['reduction_bytes']:.3f}), "
        f"bound {0.9 * ceiling:.3f} = 0.9 x min({TARGET}, {_max_reduction(truth):.3f}); "
        f"errors {report['errors_kept']}/{report['errors_total']}; true templates lost {len(lost)}/"
        f"{len({r['EventTemplate'] for r in truth})}; patterns {report['patterns_total']}; "
        f"kept while boosted {report['lines_kept_boosted']}"
    )


@pytest.mark.parametrize("system", LEVELLED + UNLEVELLED)
def test_every_error_and_true_template_is_kept_at_the_target(system: str, tmp_path: Path) -> None:
    report, truth, kept = _replay_system(system, tmp_path)
    errors = [int(r["LineId"]) for r in truth if normalize_severity(r.get("Level")) in ALWAYS_KEPT]
    lost = _lost_templates(truth, kept)
    print(_describe(system, report, truth, lost))
    assert len(kept) == len(truth) == report["lines_total"]
    assert all(kept[i] for i in errors)
    assert report["errors_kept"] == report["errors_total"] == len(errors)
    assert lost == []
    assert report["reduction_lines"] >= 0.9 * min(TARGET, _max_reduction(truth))


@pytest.fixture
def small_log(tmp_path: Path) -> Path:
    lines = []
    for i in range(300):
        lines.append(f"2026-11-23 10:00:{i % 60:02d} INFO GET /healthz {i % 7} ms")
    lines += [
        "2026-11-23 10:01:00 err payment 7 failed",
        "2026-11-23 10:01:01 SEVERE disk full on /dev/sda1",
        "2026-11-23 10:01:02 E cannot reach upstream",
        "2026-11-23 10:01:03 W retrying upstream",
        "2026-11-23 10:01:04 FATAL out of memory",
        "a line the format does not fit",
    ]
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_levels_in_any_spelling_are_errors_and_kept(small_log: Path, tmp_path: Path) -> None:
    out = _run(small_log, "--log-format", "<Date> <Time> <Level> <Content>", "--json", "--window-seconds", "0")
    report = json.loads(out)["report"]
    assert (report["errors_kept"], report["errors_total"]) == (4, 4)
    assert report["lines_total"] == 306


def test_decisions_file_has_a_row_for_every_line(small_log: Path, tmp_path: Path) -> None:
    decisions = tmp_path / "out.csv"
    _run(small_log, "--log-format", "<Date> <Time> <Level> <Content>", "--decisions", str(decisions))
    with decisions.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["LineId", "Kept", "Rate", "PatternId"]
    assert [int(r["LineId"]) for r in rows] == list(range(1, 307))
    assert {r["Kept"] for r in rows} == {"0", "1"}


def test_text_report_names_the_numbers(small_log: Path) -> None:
    out = _run(
        small_log, "--log-format", "<Date> <Time> <Level> <Content>", "--target-reduction", "0.5", "--price-per-gb", "2"
    )
    assert "errors  4 of 4 kept" in out
    assert "(average 2/GB, tiers included)" in out


def test_json_report_includes_the_policy(small_log: Path) -> None:
    body = json.loads(_run(small_log, "--json", "--service", "shop"))
    assert body["policy"]["service"] == body["report"]["service"] == "shop"
    assert body["policy"]["severity_rates"]["ERROR"] == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-reduction", "1.5"], "between 0 and 1"),
        (["--window-seconds", "-1"], "0 or more"),
    ],
)
def test_bad_arguments_are_refused(small_log: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _run(small_log, *args)


def test_missing_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _run(tmp_path / "nope.log")


def test_window_seconds_keeps_the_first_line_of_each_window(tmp_path: Path) -> None:
    lines = [
        f"2026-11-23 10:0{minute}:{second:02d} INFO GET /healthz {second} ms"
        for minute in range(3)
        for second in range(60)
    ]
    path = tmp_path / "ticks.log"
    path.write_text("\n".join(lines) + "\n")
    decisions = tmp_path / "out.csv"
    _run(
        path,
        "--log-format", "<Date> <Time> <Level> <Content>",
        "--target-reduction", "0.99",
        "--window-seconds", "60",
        "--decisions", str(decisions),
    )  # fmt: skip
    with decisions.open(newline="") as handle:
        kept = {int(row["LineId"]) for row in csv.DictReader(handle) if row["Kept"] == "1"}
    assert {1, 61, 121} <= kept
    assert len(kept) < 30


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_missed_target_is_flagged_with_its_cause(tmp_path: Path) -> None:
    # Half the bytes are errors, which are always kept: an 80% reduction cannot be reached.
    lines = []
    for i in range(400):
        lines.append(f"2026-11-23 10:{i // 60:02d}:{i % 60:02d} INFO cache refreshed for shard {i}")
        lines.append(f"2026-11-23 10:{i // 60:02d}:{i % 60:02d} ERROR payment {i} declined by the issuer bank")
    log = _write(tmp_path / "errors.log", lines)
    args = ("--log-format", "<Date> <Time> <Level> <Content>", "--target-reduction", "0.8", "--window-seconds", "0")
    target = json.loads(_run(log, *args, "--json"))["report"]["target"]
    assert target["met"] is False
    assert target["shortfall"] > 0.2
    assert target["causes"][0]["cause"] == "errors"
    assert target["causes"][0]["lines"] == 400
    text = _run(log, *args)
    assert "target 80% MISSED" in text
    assert "ERROR/FATAL lines (always kept) 400 lines" in text


def test_a_server_log_without_a_format_counts_and_keeps_the_errors_its_lines_name(tmp_path: Path) -> None:
    lines = []
    for i in range(3_000):
        second = f"2026-12-06 10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d} UTC [{4000 + i % 97}]"
        lines.append(f"{second} app@shop LOG:  duration: {i % 90}.{i % 1000:03d} ms  bind cart_{i % 500}")
        if i % 10 == 0:
            lines.append(f'{second} app@shop ERROR:  relation "cart_{i % 7}" does not exist at character 15')
        if i % 25 == 0:
            lines.append(f"{second} app@shop FATAL:  terminating connection due to administrator command")
    log = _write(tmp_path / "postgresql.log", lines)
    report = json.loads(_run(log, "--json", "--window-seconds", "0"))["report"]
    assert (report["errors_total"], report["errors_kept"]) == (300 + 120, 300 + 120)
    assert report["reduction_bytes"] > 0.5


def test_a_met_target_says_so_and_lists_no_cause(small_log: Path) -> None:
    args = ("--log-format", "<Date> <Time> <Level> <Content>", "--target-reduction", "0.3", "--window-seconds", "0")
    target = json.loads(_run(small_log, *args, "--json"))["report"]["target"]
    assert target["met"] is True and target["causes"] == []
    assert "target 30% met" in _run(small_log, *args)


def test_the_generator_meets_its_target_with_anomaly_boosts_on_replay(tmp_path: Path) -> None:
    # A steady pattern that bursts to ten times its rate: the boost fires on replay, and the plan leaves room for it.
    lines = []
    for minute in range(40):
        per_minute = 1000 if 30 <= minute < 34 else 100
        for i in range(per_minute):
            second = i * 60 // per_minute
            lines.append(f"2026-11-23 10:{minute:02d}:{second:02d} INFO served request {i} in {i % 50} ms")
        lines.append(f"2026-11-23 10:{minute:02d}:59 INFO checkpoint written for minute {minute}")
    log = _write(tmp_path / "burst.log", lines)
    args = ("--log-format", "<Date> <Time> <Level> <Content>", "--target-reduction", "0.8", "--window-seconds", "0")
    report = json.loads(_run(log, *args, "--json"))["report"]
    assert report["lines_kept_boosted"] > 0
    assert report["kept_by"]["anomaly_boost"]["lines"] == report["lines_kept_boosted"]
    assert report["target"]["met"] is True, report["target"]
    assert report["reduction_bytes"] >= 0.8 - 0.005


def test_each_replay_round_reports_every_line_once(tmp_path: Path) -> None:
    # The burst makes the first replay miss (the boost keeps what the rates did not plan for), so the plan is written
    # again: progress restarts with each round instead of counting past the number of lines.
    lines = []
    for minute in range(40):
        per_minute = 1000 if 30 <= minute < 34 else 100
        lines += [
            f"2026-11-23 10:{minute:02d}:{i * 60 // per_minute:02d} INFO served request {i} in {i % 50} ms"
            for i in range(per_minute)
        ]
    records = records_from_file(_write(tmp_path / "burst.log", lines), log_format="<Date> <Time> <Level> <Content>")
    per_round: list[int] = []
    outcome = plan_and_replay(
        records=records,
        service="burst",
        target=ReductionTarget(0.8),
        window_seconds=0,
        pricing=flat_pricing(0.5),
        on_round=lambda number: per_round.append(0),
        on_decision=lambda _record, _decision: per_round.__setitem__(-1, per_round[-1] + 1),
    )
    assert len(per_round) >= 2, "the burst should need a second plan"
    assert per_round == [len(records)] * len(per_round)
    assert len(outcome.decisions) == len(records)
