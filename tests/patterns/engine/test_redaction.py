"""PII redaction, measured for precision and recall on a labelled corpus of log lines."""

from __future__ import annotations

import json
import random
import string
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from patterns.engine.redaction import CARD, EMAIL, IP, PHONE, SECRET, USER, find_pii, redact

CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"


def _corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def _labelled_spans(row: dict[str, Any]) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for label in row["pii"]:
        start = row["text"].find(label["value"])
        while start in taken:
            start = row["text"].find(label["value"], start + 1)
        taken.add(start)
        spans.append((start, start + len(label["value"]), label["kind"]))
    return spans


def _measure(corpus: list[dict[str, Any]]) -> dict[str, Any]:
    true_positive = false_positive = found = missed = 0
    by_kind: Counter[str] = Counter()
    missed_by_kind: Counter[str] = Counter()
    for row in corpus:
        labels = _labelled_spans(row)
        detected = find_pii(row["text"])
        for span in detected:
            if any(span.start < end and start < span.end for start, end, _ in labels):
                true_positive += 1
            else:
                false_positive += 1
        for start, end, kind in labels:
            by_kind[kind] += 1
            if any(s.start <= start and end <= s.end for s in detected):
                found += 1
            else:
                missed += 1
                missed_by_kind[kind] += 1
    return {
        "precision": true_positive / (true_positive + false_positive),
        "recall": found / (found + missed),
        "labels": found + missed,
        "missed_by_kind": dict(missed_by_kind),
        "by_kind": dict(by_kind),
    }


def test_corpus_has_every_kind_and_negatives() -> None:
    rows = _corpus()
    kinds = {label["kind"] for row in rows for label in row["pii"]}
    assert kinds == {EMAIL, IP, SECRET, CARD, PHONE, USER}
    assert sum(1 for row in rows if not row["pii"]) >= 30


def test_precision_and_recall_on_the_labelled_corpus() -> None:
    result = _measure(_corpus())
    print(f"\nPII redaction on {CORPUS.name}: {json.dumps(result)}")
    assert result["precision"] >= 0.95
    assert result["recall"] >= 0.95


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail alice@example.com now", "mail <EMAIL> now"),
        ("from 203.0.113.45 port 22", "from <IP> port 22"),
        ("peer 2001:db8::1 up", "peer <IP> up"),
        ("password=hunter22 rejected", "password=<SECRET> rejected"),
        ("card 4111 1111 1111 1111 declined", "card <CARD> declined"),
        ("order 4111 1111 1111 1112 shipped", "order 4111 1111 1111 1112 shipped"),
        ("SMS +1 415-555-0132 sent", "SMS <PHONE> sent"),
        ("GET /users/8812/orders", "GET /users/<USER>/orders"),
        ("done in 12:30:45, version 1.2.3", "done in 12:30:45, version 1.2.3"),
    ],
)
def test_redact_replaces_each_kind_with_its_placeholder(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redaction_leaves_no_labelled_value_behind() -> None:
    leaks = [
        (row["text"], label["value"])
        for row in _corpus()
        for label in row["pii"]
        if len(label["value"]) > 2 and label["value"] in redact(row["text"])
    ]
    assert leaks == []


def _luhn_complete(prefix: str, length: int, draw: random.Random) -> str:
    digits = prefix + "".join(str(draw.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        total = 0
        for index, char in enumerate(reversed(digits + check)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digits + check
    raise AssertionError("unreachable")


def _word(draw: random.Random, size: int) -> str:
    return "".join(draw.choice(string.ascii_lowercase) for _ in range(size))


def _token(draw: random.Random, size: int) -> str:
    return "".join(draw.choice(string.ascii_letters + string.digits) for _ in range(size))


def _pii_value(kind: str, draw: random.Random) -> str:
    if kind == EMAIL:
        return f"{_word(draw, 5)}.{_word(draw, 6)}@{_word(draw, 7)}.{draw.choice(['com', 'io', 'co.uk', 'de'])}"
    if kind == IP:
        if draw.random() < 0.7:
            return ".".join(str(draw.randrange(1, 255)) for _ in range(4))
        groups = [f"{draw.randrange(1, 0xFFFF):x}" for _ in range(8)]
        return ":".join(groups) if draw.random() < 0.5 else f"{groups[0]}:{groups[1]}::{groups[2]}"
    if kind == CARD:
        number = _luhn_complete(draw.choice(["4", "51", "55", "2221"]), 16, draw)
        sep = draw.choice(["", " ", "-"])
        return sep.join(number[i : i + 4] for i in range(0, 16, 4))
    if kind == PHONE:
        a, b, c = draw.randrange(201, 989), draw.randrange(200, 999), draw.randrange(1000, 9999)
        return draw.choice([f"+1 {a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"+44 20 {b}{c // 10} {c}"])
    if kind == SECRET:
        return draw.choice(
            [
                f"sk-proj-{_token(draw, 24)}",
                f"ghp_{_token(draw, 36)}",
                "AKIA" + "".join(draw.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
                f"eyJ{_token(draw, 20)}.eyJ{_token(draw, 30)}.{_token(draw, 22)}",
            ]
        )
    return str(draw.randrange(1000, 99_999_999))


_CARRIERS = {
    EMAIL: ["password reset for {v}", "sent receipt to {v} ok", "user={v} logged in"],
    IP: ["connection from {v} port 4431", "client {v} rejected", "upstream {v} timed out"],
    CARD: ["charge card {v} declined", "card={v} amount=12.00"],
    PHONE: ["sms to {v} delivered", "call back {v} requested"],
    SECRET: ["rotated key {v}", "Authorization: Bearer {v}", "using {v} for upload"],
    USER: ["GET /users/{v}/orders 200", "DELETE /accounts/{v} 204"],
}
_NEGATIVES = [
    "released version {a}.{b}.{c}",
    "took {n} ms for {m} rows",
    "request {uuid} finished",
    "sha1 {hex40} verified",
    "block blk_-{big} replicated",
    "job started at {a:02d}:{b:02d}:{c:02d}",
    "order {n16bad} shipped",
    "epoch {epoch} processed",
    "range {a}-{b}-{c} reserved",
    "GET /api/v1/orders/{n} 200",
    "retry {a}/{b} after {c}s",
    "pid {n} exited with {b}",
]


def _generated_corpus(seed: int, rows: int) -> list[dict[str, Any]]:
    draw = random.Random(seed)
    corpus: list[dict[str, Any]] = []
    for _ in range(rows):
        if draw.random() < 0.6:
            kind = draw.choice(sorted(_CARRIERS))
            value = _pii_value(kind, draw)
            corpus.append(
                {"text": draw.choice(_CARRIERS[kind]).format(v=value), "pii": [{"kind": kind, "value": value}]}
            )
        else:
            n16 = str(draw.randrange(10**15, 10**16))
            while _luhn_ok(n16):
                n16 = str(draw.randrange(10**15, 10**16))
            text = draw.choice(_NEGATIVES).format(
                a=draw.randrange(24), b=draw.randrange(60), c=draw.randrange(60), n=draw.randrange(99_999),
                m=draw.randrange(9999), uuid=str(uuid.UUID(int=draw.getrandbits(128))),
                hex40=f"{draw.getrandbits(160):040x}", big=draw.randrange(10**18, 9 * 10**18),
                n16bad=n16, epoch=draw.randrange(1_500_000_000_000, 1_800_000_000_000),
            )  # fmt: skip
            corpus.append({"text": text, "pii": []})
    return corpus


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_precision_and_recall_on_generated_values(seed: int) -> None:
    result = _measure(_generated_corpus(seed, 600))
    print(f"\nPII redaction on generated corpus (seed {seed}, 600 rows): {json.dumps(result)}")
    assert result["precision"] >= 0.97
    assert result["recall"] >= 0.97
