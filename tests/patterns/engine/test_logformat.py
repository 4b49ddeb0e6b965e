"""Log formats and readers: Loghub notation, JSON lines, gzip, and hostile input that must never crash the reader."""

from __future__ import annotations

import gzip
import json
import random
import time
from pathlib import Path

import pytest

from patterns.engine.logformat import (
    LogFormat,
    ReadStats,
    level_of_text,
    parse_json_line,
    parse_json_message,
    read_lines,
    read_records,
)
from patterns.engine.miner import Miner


@pytest.mark.parametrize(
    ("log_format", "line", "content", "level", "field"),
    [
        (
            "<Date> <Time> <Pid> <Level> <Component>: <Content>",
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating",
            "PacketResponder 1 for block blk_1 terminating",
            "INFO",
            ("Component", "dfs.DataNode$PacketResponder"),
        ),
        (
            "<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>",
            "2015-10-18 18:01:47,978 WARN [main] org.apache.App: Created   MRAppMaster",
            "Created   MRAppMaster",
            "WARN",
            ("Process", "main"),
        ),
        (
            "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>",
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown",
            "check pass; user unknown",
            "INFO",
            ("PID", "19939"),
        ),
        (
            "\\[<Time>\\] <Program> - <Content>",
            "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy",
            "proxy.cse.cuhk.edu.hk:5070 open through proxy",
            "INFO",
            ("Time", "10.30 16:49:06"),
        ),
        (
            "<Date> <Time> <Level> <Content>",
            "2024-01-01\t10:00:00   error   disk full",
            "disk full",
            "ERROR",
            ("Level", "error"),
        ),
    ],
)
def test_log_format_splits_fields_content_and_level(
    log_format: str, line: str, content: str, level: str, field: tuple[str, str]
) -> None:
    record = LogFormat(log_format).parse(line)
    assert record.parsed
    assert record.message == content
    assert record.level == level
    assert record.fields[field[0]] == field[1]


def test_non_matching_line_keeps_the_whole_text_unparsed() -> None:
    record = LogFormat("<Date> <Time> <Level> <Component>: <Content>").parse("no header here")
    assert not record.parsed
    assert record.message == "no header here"


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-12-06 17:59:07.399 UTC [31007] postgres@postgres ERROR:  division by zero", "ERROR"),
        ("2026-12-06 17:59:07.399 UTC [31007] app@db FATAL:  password authentication failed", "FATAL"),
        ("2026-12-06 17:59:07.399 UTC [31007] app@db PANIC:  could not write to file", "FATAL"),
        ("2026-12-06 17:59:07.399 UTC [31007] app@db WARNING:  there is no transaction in progress", "WARN"),
        ("2026-12-06 17:59:07.399 UTC [31007] app@db LOG:  statement: SELECT 'ERROR'", "INFO"),
        ("081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated", "INFO"),
        ("- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL FATAL data TLB", "FATAL"),
        ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6", "ERROR"),
        ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", "INFO"),
        ("[Thu Jun 09 06:07:04.123 2005] [core:crit] [pid 123] AH00037: symlink not allowed", "FATAL"),
        ("2026/12/06 17:59:07 [emerg] 1234#0: bind() to 0.0.0.0:80 failed", "FATAL"),
        ("03-17 16:13:38.811  1702  2395 E WindowManager: window token not found", "ERROR"),
        ("03-17 16:13:38.811  1702  2395 D WindowManager: relayout", "DEBUG"),
        ("E/AndroidRuntime( 1234): FATAL EXCEPTION: main", "ERROR"),
        ('time=2026-01-01T00:00:00Z level=error msg="boom"', "ERROR"),
        ("ts=1 lvl='warn' msg=x", "WARN"),
        ('{not json} severity: "CRITICAL" disk', "FATAL"),
        ("I0102 15:04:05.000000 1 main.go:10] the glog shape is left to --log-format", None),
        ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0", None),
        ("Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2", None),
        ("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy HTTPS", None),
        ("SELECT ALL FROM t; CONFIG reloaded", None),
        ("I am here and an error happened", None),
        ("X" * 200 + " ERROR beyond the start", None),
        ("", None),
    ],
)
def test_a_line_without_structure_reads_its_level_from_its_start(line: str, level: str | None) -> None:
    assert level_of_text(line) == level


def test_plain_lines_and_lines_a_format_does_not_fit_take_the_level_they_name(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("boot ok\n2026-12-06 10:00:00 UTC [7] ERROR:  disk full\n[warn] slow\n")
    assert [r.level for r in read_records(path)] == ["INFO", "ERROR", "WARN"]
    unfit = [r for r in read_records(path, "<Date> <Time> <Zone> <Pid> <Level>: <Content>") if not r.parsed]
    assert [r.level for r in unfit] == ["INFO", "WARN"]
    no_level_field = LogFormat("<Month> <Day> <Time> <Host> <Content>")
    assert no_level_field.parse("Jul 27 14:41:57 combo logrotate: ALERT exited abnormally with [1]").level == "FATAL"
    assert no_level_field.parse("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure").level == "INFO"


def test_format_without_content_is_rejected() -> None:
    with pytest.raises(ValueError, match="Content"):
        LogFormat("<Date> <Time>")


@pytest.mark.parametrize(
    ("line", "message", "level"),
    [
        ('{"body": "user 1 logged in", "severity_text": "WARN"}', "user 1 logged in", "WARN"),
        ('{"msg": "x", "level": "error", "ts": 1700000000}', "x", "ERROR"),
        ('{"message": "m", "levelname": "CRITICAL"}', "m", "FATAL"),
        ('{"log": "raw line\\n", "severity": 17}', "raw line\n", "ERROR"),
        ('{"body": {"a": 1}, "severity_number": 5}', '{"a": 1}', "DEBUG"),
        ('{"other": 1}', '{"other": 1}', "INFO"),
    ],
)
def test_json_lines_take_message_and_level_from_common_fields(line: str, message: str, level: str) -> None:
    record = parse_json_line(line)
    assert record is not None
    assert (record.message, record.level) == (message, level)


@pytest.mark.parametrize("line", ["[1, 2]", "{not json", "plain", '"string"'])
def test_non_object_json_is_not_a_json_record(line: str) -> None:
    assert parse_json_line(line) is None


def test_json_timestamps_accept_iso_and_epoch_units() -> None:
    assert parse_json_line('{"msg": "a", "timestamp": "2024-01-01T00:00:00Z"}').timestamp == 1704067200.0  # type: ignore[union-attr]
    assert parse_json_line('{"msg": "a", "ts": 1704067200123}').timestamp == pytest.approx(1704067200.123)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "line",
    [
        '{"message": "m", "level": "warn", "timestamp": 1704067200.5, "attributes": {"a": [1, 2.5, null]}}',
        '{"message": "dup", "message": "last", "level": "INFO", "level": "ERROR"}',
        '{"body": {"n": 18446744073709551616, "m": -9223372036854775809}, "level": "info"}',
        '{"msg": "big level", "level": 123456789012345678901234567890}',
        '{"msg": "big level number", "severity_number": 99999999999999999999}',
        '{"msg": "big time", "timestamp": 123456789012345678901234567890}',
        '{"msg": "huge time", "ts": 1' + "0" * 400 + "}",
        '{"msg": "nan", "timestamp": NaN, "level": "debug"}',
        '{"msg": "inf", "timestamp": Infinity}',
        '{"msg": "-inf", "time": -Infinity, "ts": 5}',
        '{"msg": "1e400", "ts": 1e400}',
        '{"message": "lone \\ud800 surrogate"}',
        '{"message": "pair \\ud83d\\ude00 ok", "level": 17}',
        '{"message": null, "msg": "second field", "level": true, "severity": "fatal"}',
        '{"log": ["a", 1], "level": 3.0}',
        '{"message": "deep", "x": ' + "[" * 2000 + "]" * 2000 + "}",
        '  {"message": "padded"}  ',
        '{"message": "a\x01b"}',
        '{"message": "x"} trailing',
    ],
)
def test_json_message_for_mining_is_read_as_the_json_record(line: str) -> None:
    record = parse_json_line(line)
    expected = None if record is None else (record.message, record.level, record.timestamp)
    assert parse_json_message(line) == expected


def _mine(path: Path, log_format: str | None = None) -> tuple[ReadStats, Miner]:
    stats = ReadStats()
    miner = Miner()
    for record in read_records(path, log_format, stats):
        miner.add(record.message, severity=record.level)
    miner.mine()
    return stats, miner


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    stats, miner = _mine(path)
    assert stats.lines == 0
    assert miner.patterns() == []


def test_binary_garbage_is_read_and_mined_without_error(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(300_000)))
    stats, miner = _mine(path, "<Date> <Time> <Level> <Component>: <Content>")
    assert stats.lines > 0
    assert stats.unparsed > stats.parsed
    assert stats.parsed + stats.unparsed + stats.empty == stats.lines
    assert sum(p.count for p in miner.patterns()) == stats.lines - stats.empty


def test_one_megabyte_line_is_bounded_and_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    huge = "2024-01-01 10:00:00 INFO app: " + "x=1 " * 300_000
    path.write_text(huge + "\n2024-01-01 10:00:01 INFO app: ok 2\n", encoding="utf-8")
    started = time.perf_counter()
    stats, miner = _mine(path, "<Date> <Time> <Level> <Component>: <Content>")
    assert time.perf_counter() - started < 5
    assert stats.truncated == 1
    assert stats.lines == 2
    assert all(len(example) <= 4096 for p in miner.patterns() for example in p.examples)


def test_invalid_utf8_is_replaced_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "latin1.log"
    path.write_bytes(b"2024-01-01 10:00:00 ERROR app: caf\xe9 \xff\xfe broken 12\n")
    records = list(read_records(path, "<Date> <Time> <Level> <Component>: <Content>"))
    assert records[0].message == "caf\ufffd \ufffd\ufffd broken 12"
    assert records[0].level == "ERROR"


def test_gzip_and_json_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl.gz"
    rows = [{"msg": f"job {i} done", "level": "info"} for i in range(5)] + [{"msg": "boom", "level": "error"}]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows) + "\nnot json at all\n")
    stats, miner = _mine(path)
    assert (stats.lines, stats.json, stats.unparsed) == (7, 6, 1)
    severities = {p.template: p.severities for p in miner.patterns()}
    assert severities["job <NUM> done"] == {"INFO": 5}
    assert severities["boom"] == {"ERROR": 1}


def test_lines_not_matching_the_format_are_counted_and_still_mined(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_text("2024-01-01 10:00:00 INFO app: started 1\ngarbage line 2\n\n", encoding="utf-8")
    stats, miner = _mine(path, "<Date> <Time> <Level> <Component>: <Content>")
    assert (stats.lines, stats.parsed, stats.unparsed, stats.empty) == (3, 1, 1, 1)
    assert sorted(p.template for p in miner.patterns()) == ["garbage line <NUM>", "started <NUM>"]


def test_hostile_format_falls_back_without_hanging() -> None:
    log_format = "(?=x)<A> <B> <C> <D>: <Content>"
    started = time.perf_counter()
    record = LogFormat(log_format).parse("a " * 20_000)
    assert time.perf_counter() - started < 2
    assert not record.parsed


def test_lines_across_read_blocks_and_a_truncated_line_keep_their_order(tmp_path: Path) -> None:
    from patterns.engine.logformat import MAX_LINE_BYTES, read_lines

    path = tmp_path / "blocks.log"
    short = [f"line {i} " + "y" * (i % 97) for i in range(30_000)]
    path.write_bytes(
        ("\n".join(short[:15_000]) + "\n").encode()
        + b"z" * (MAX_LINE_BYTES + 5)
        + b"\r\n"
        + ("\n".join(short[15_000:])).encode()
    )
    stats = ReadStats()
    lines = list(read_lines(path, stats))
    assert stats.truncated == 1
    assert lines[:15_000] == short[:15_000]
    assert lines[15_000] == "z" * MAX_LINE_BYTES
    assert lines[15_001:] == short[15_000:]


def test_lines_are_decoded_as_each_line_alone_would_be(tmp_path: Path) -> None:
    rng = random.Random(3)
    pieces = [
        b"a",
        b"\n",
        b"\r",
        b"\r\n",
        b" ",
        b"\xe2",
        b"\x82",
        b"\xac",
        b"\xf0\x9f",
        b"\xff",
        b"\xc3",
        "é😀".encode(),
    ]
    path = tmp_path / "mixed.log"
    for _ in range(300):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        path.write_bytes(data)
        parts = data.split(b"\n")
        if parts[-1] == b"":
            parts.pop()
        assert list(read_lines(path)) == [p.rstrip(b"\r").decode("utf-8", "replace") for p in parts]
