"""Shared signature vectors, RE2 compatibility of the masking rules, and template matching."""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from lipservice_sdk.signature import (
    MASKING_RULES,
    MAX_MESSAGE_CHARS,
    _compile_template,
    _long_chain,
    _match_tokens,
    reference_template_key,
    signature,
    signature_of_key,
    template_key,
    template_matches,
    template_matches_key,
    template_to_regex,
)

try:
    import re2 as _re2
except ImportError:  # the SDK itself needs no RE2; the project's dev environment has google-re2
    _re2 = None
re2: Any = _re2
needs_re2 = pytest.mark.skipif(re2 is None, reason="google-re2 (import name re2) is not installed")

VECTORS_PATH = Path(__file__).resolve().parents[2] / "testdata" / "signature_vectors.jsonl"
VECTORS: list[dict[str, str]] = [json.loads(line) for line in VECTORS_PATH.read_text(encoding="utf-8").splitlines()]


def _re2_key(message: str) -> str:
    text = message[:MAX_MESSAGE_CHARS].encode("utf-8", "replace").decode("utf-8")
    for rule in MASKING_RULES:
        text = re2.sub(rule.pattern, rule.placeholder, text)
    return str(text)


def test_vector_file_is_large_enough() -> None:
    assert len(VECTORS) >= 200
    assert len({v["message"] for v in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"] for v in VECTORS])
def test_template_key_matches_vector(vector: dict[str, str]) -> None:
    assert template_key(vector["message"]) == vector["key"] == reference_template_key(vector["message"])
    assert signature(vector["message"]) == vector["signature"] == signature_of_key(vector["key"])


@needs_re2
@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"] for v in VECTORS])
def test_re2_gives_the_same_key_as_python(vector: dict[str, str]) -> None:
    assert _re2_key(vector["message"]) == vector["key"]


@needs_re2
@pytest.mark.parametrize("rule", MASKING_RULES, ids=[r.name for r in MASKING_RULES])
def test_rule_compiles_under_re2(rule: Any) -> None:
    re2.compile(rule.pattern)
    for construct in ("(?=", "(?!", "(?<", "*+", "++", "?+", "\\d", "\\w", "\\b", "\\s"):
        assert construct not in rule.pattern


def test_rule_names_are_unique() -> None:
    assert len({r.name for r in MASKING_RULES}) == len(MASKING_RULES)


def test_signature_is_sixteen_lowercase_hex_chars_of_sha256() -> None:
    sig = signature_of_key("User <*> logged in")
    assert re.fullmatch("[0-9a-f]{16}", sig)
    assert sig == hashlib.sha256(b"User <*> logged in").hexdigest()[:16]
    assert signature_of_key("a") != signature_of_key("b")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("User 12 logged in from 10.0.0.1:80", "User 9931 logged in from 192.168.7.7:443"),
        ("took 12ms at 2024-01-01T00:00:00Z", "took 3.5s at 2025-12-31T23:59:59.999+01:00"),
        ("job 550e8400-e29b-41d4-a716-446655440000 done", "job 123e4567-e89b-12d3-a456-426614174000 done"),
        ("  spaced\tout  42 ", "spaced out 7"),
    ],
)
def test_messages_differing_only_in_values_share_a_signature(first: str, second: str) -> None:
    assert signature(first) == signature(second)


def test_messages_with_different_words_have_different_signatures() -> None:
    assert signature("User 1 logged in") != signature("User 1 logged out")


@pytest.mark.parametrize(
    ("template", "message", "expected"),
    [
        ("User <*> logged in", "User alice logged in", True),
        ("User <*> logged in", "User alice bob logged in", True),
        ("User <*> logged in", "User logged in", True),
        ("User <*> logged in", "User alice logged out", False),
        ("<*> close, <NUM> bytes <*> sent", "host:1 close, 3 bytes (1.0 KB) sent", True),
        ("<*> close, <NUM> bytes <*> sent", "host:1 close, 3 bytes sent", True),
        ("<*> close, <NUM> bytes <*> sent", "close, 3 bytes sent extra", False),
        ("took <NUM> for blk_<NUM>", "took 12ms for blk_-42", True),
        ("open <*>", "open /var/log/x.log", True),
        ("proxy <*>:<NUM> open", "proxy proxy.example.com:5070 open", True),
        ("proxy <*>:<NUM> open", "proxy example.com open", False),
        ("a<*>b<*>c", "axxbyyc", True),
        ("a<*>b<*>c", "axxcyyb", False),
        ("Connected to <IP>", "Connected to 10.0.0.1", True),
        ("Connected to 10.0.0.1", "Connected to 10.0.0.1", True),
        ("<*>", "", True),
        ("<*>", "anything at all", True),
        ("", "", True),
        ("", "x", False),
        ("exact text", "exact text", True),
        ("exact text", "exact  text", True),
    ],
)
def test_template_matches(template: str, message: str, expected: bool) -> None:
    assert template_matches(template, message) is expected


@needs_re2
@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("User <*> logged in", "User alice logged in"),
        ("took <NUM> for blk_<NUM>", "took <NUM> for blk_<NUM>"),
        ("proxy <*>:<NUM> open", "proxy a.b:<NUM> open"),
        ("a.b (c) [d] $e ^f", "a.b (c) [d] $e ^f"),
        ("x <*> y <*>", "x y"),
        ("x <*> y <*>", "x 1 2 y 3 4"),
    ],
)
def test_template_regex_matches_key_in_re_and_re2(template: str, key: str) -> None:
    pattern = template_to_regex(template)
    assert re.search(pattern, key)
    assert re2.search(pattern, key)
    if not template.endswith("<*>"):
        assert not re2.search(pattern, key + " extra")
    assert template_matches_key(template, key)


def test_template_matching_is_linear_on_adversarial_input() -> None:
    template = "x " + "<*>a" * 30 + "<*>b " + "<*> a " * 30 + "c"
    message = "x " + "a" * 4000 + " " + "a " * 1500
    started = time.perf_counter()
    assert not template_matches(template, message)
    assert time.perf_counter() - started < 0.5


def test_template_key_is_bounded_and_fast_on_huge_input() -> None:
    message = "9" * 1_000_000 + " tail"
    started = time.perf_counter()
    key = template_key(message)
    assert time.perf_counter() - started < 1.0
    assert key == "<NUM>"


@pytest.mark.parametrize("message", ["\udcff\udcfe bytes", "\x00" * 10, "\ufffd" * 5, "a\u2028b"])
def test_odd_strings_never_raise(message: str) -> None:
    assert re.fullmatch("[0-9a-f]{16}", signature(message))


_FUZZ_PIECES = (
    "0",
    "1",
    "7",
    "42",
    "2015-10-18",
    "18:01:47",
    ",978",
    ".5",
    "T",
    "Z",
    "+02:00",
    "-0700",
    "a",
    "f",
    "e2",
    "0x",
    "Jun",
    "Mon",
    "Dec",
    " ",
    " ",
    "  ",
    "\t",
    "\n",
    ":",
    "::",
    ".",
    "-",
    "/",
    "_",
    "=",
    "id=",
    "@",
    "x.com",
    '"',
    "'",
    "<TS>",
    "<NUM>",
    "[",
    "]",
    "(",
    "é",
    "10.0.0.1",
    "fe80",
    "blk_",
    "ms",
    "GB",
    "%",
    "Oct",
    "/2000:",
    "dead",
    "be",
)


@pytest.mark.parametrize("seed", range(8))
def test_fast_template_key_equals_the_plain_rule_chain(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2500):
        message = "".join(rng.choice(_FUZZ_PIECES) for _ in range(rng.randint(0, 24)))
        assert template_key(message) == reference_template_key(message), message


@pytest.mark.parametrize(
    "messages",
    [
        ["invalid user test9 [preauth]", "invalid user test1 [preauth]", "invalid user test0 [preauth]"],
        ["code 0x5 failed", "code 1x5 failed", "code 0x7 failed"],
        ["port 8080 ssh2", "port 1 ssh3", "port 0 ssh2"],
        ["é 12 ok", "é 99 ok", "é 1.5 ok"],
        ["iar 5aBc 5 18:01:47", "iar 5Dec 5 18:01:47", "iar 1fEB 1 18:01:47", "iar 1Feb 1 18:01:47"],
        ["at c05137a0 mask 0xa3", "at b05137a0 mask 0xa3", "at 5d05137a mask 0xa3", "at 5dead12 mask 0x1"],
    ],
)
def test_cached_keys_never_leak_between_messages_of_the_same_digit_shape(messages: list[str]) -> None:
    for message in messages * 2:
        assert template_key(message) == reference_template_key(message)


_HEX_LIKE = ("Dec5", "5Dec", "Feb12", "12", "0", "7B", "B", "dead", "be", "e2", "1e5", "0x1f", "aB3", "1KB", "ms")
_WORDS = (
    "iar",
    "dear",
    "mask",
    "at",
    "Dec",
    "Feb",
    "Jun",
    "KB",
    "B",
    "ms",
    "12",
    "3",
    "-4",
    "+7",
    "18:01:47",
    "id=",
    "x",
    "(",
    ")",
    ",",
    "2015-10-18",
    "10.0.0.1",
    "ssh2",
    "blk_",
    "=",
    ":",
    "::",
    "é",
)


def _hex_token(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(_HEX_LIKE)
    return "".join(rng.choice(("0123456789", "abcdef", "ABCDEF")[rng.randrange(3)]) for _ in range(rng.randint(1, 14)))


def _redrawn(rng: random.Random, token: str) -> str:
    """The token with each hex digit redrawn within its class (a digit stays a digit, a-fA-F stays a letter)."""
    if rng.random() < 0.3:
        return token  # kept as drawn, so that spelled months and units (5Dec, 7B) meet their redrawn twins
    out = []
    for c in token:
        if c.isdigit():
            out.append(rng.choice("0123456789"))
        elif c in "abcdefABCDEF":
            out.append(rng.choice("abcdefABCDEF"))
        else:
            out.append(c)
    return "".join(out)


@pytest.mark.parametrize("seed", range(6))
def test_lines_with_hex_values_of_one_class_key_as_the_plain_rule_chain(seed: int) -> None:
    # Hex values of one digit/letter class share the token memo's class entry: each line must still key exactly as
    # the plain chain does, whatever surrounds the values (months, units, numbers, = and punctuation).
    rng = random.Random(seed)
    for _ in range(300):
        slots = []
        for _ in range(rng.randint(1, 10)):
            roll = rng.random()
            if roll < 0.45:
                slots.append(_hex_token(rng))
            elif roll < 0.6:
                slots.append(rng.choice(_WORDS) + _hex_token(rng) + rng.choice(("", ",", ")", ":", "=", ".")))
            else:
                slots.append(rng.choice(_WORDS))
        for _ in range(8):
            message = " ".join(_redrawn(rng, token) for token in slots)
            assert template_key(message) == reference_template_key(message), message


def _long_line(rng: random.Random) -> str:
    """A long line of the kinds masked whole by RE2: a stack trace, a key=value dump, or fuzz pieces, some with
    non-ASCII text, odd spacing or past MAX_MESSAGE_CHARS."""
    words = ["alpha", "beta", "gamma", "nodeé", "日本", "s3", "ssh2", "Jun", "Mon", "ms", "id", "x" * 40]

    def word() -> str:
        return rng.choice(words) + rng.choice(["", "", str(rng.randrange(100)), "_" + rng.choice(words)])

    def value() -> str:
        return rng.choice(
            [
                str(rng.randrange(-(10**6), 10**6)),
                f"{rng.getrandbits(48):012x}",
                "550e8400-e29b-41d4-a716-446655440000",
                f"10.{rng.randrange(256)}.0.{rng.randrange(256)}:{rng.randrange(70000)}",
                "fe80::1%eth0",
                "[::1]:443",
                "2001:db8::ff00:42:8329",
                "::ffff:10.0.0.1",
                "aa:bb:cc:dd:ee:ff",
                "01-23-45-67-89-AB",
                "aa:bb-cc:dd-ee:0f",
                "10/Oct/2000:13:55:36 -0700",
                "Mon, 14 Jun 2021 15:16:01 GMT",
                "2024/01/02 03:04",
                "DEADBEEF-0000-4000-8000-00000000CAFE",
                f"{rng.getrandbits(64):x}",
                "ops@example.com",
                f'"{word()}"',
                f"'{word()}'",
                "2024-01-02T03:04:05.678Z",
                "Jun 14 15:16:01",
                "12/06/2026",
                f"{rng.randrange(1000)} ms",
                f"{rng.random():.3f}GB",
                "0x" + f"{rng.getrandbits(32):x}",
                "/var/" + word() + "/" + word(),
                word(),
                "😀" * rng.randint(1, 3),
            ]
        )

    kind = rng.randrange(3)
    if kind == 0:
        frames = " ".join(
            f"at com.{word()}.{word().title()}.{word()}({word().title()}.java:{rng.randrange(1, 3000)})"
            for _ in range(rng.randint(10, 120))
        )
        text = f"java.lang.IllegalStateException: {word()} failed {frames}"
    elif kind == 1:
        keys = ["user_id", "sessionId", "token", "key", "apiKey", "trace.id", "ID", "name", word()]
        text = "context: " + " ".join(f"{rng.choice(keys)}={value()}" for _ in range(rng.randint(20, 400)))
    else:
        text = "".join(rng.choice((*_FUZZ_PIECES, " ", value())) for _ in range(rng.randint(200, 2000)))
    separators = (" ", " ", " ", "  ", "\t", "\n", " \r\n ")
    return rng.choice(["", " ", "\t"]) + text.replace(" ", rng.choice(separators)) + rng.choice(["", " ", "\n"])


@pytest.mark.parametrize("seed", range(4))
def test_long_lines_key_as_the_plain_rule_chain(seed: int) -> None:
    rng = random.Random(seed)
    lengths = []
    for _ in range(150):
        message = _long_line(rng)
        lengths.append(len(message))
        assert template_key(message) == reference_template_key(message), message
    assert max(lengths) > MAX_MESSAGE_CHARS
    assert sum(1 for n in lengths if n > 512) > 100


@needs_re2
@pytest.mark.parametrize("seed", range(4))
def test_re2_chain_for_long_lines_equals_the_plain_rule_chain(seed: int) -> None:
    chain = _long_chain()
    assert chain is not None
    rng = random.Random(100 + seed)
    for _ in range(150):
        message = _long_line(rng)
        text = message[:MAX_MESSAGE_CHARS]
        assert chain.key(text) == reference_template_key(text), text
    pad = "word " * 60
    for text in [
        pad + "10.0.0.1",
        " " + "é 12 ms " * 100,
        "\udcff" + "x=1 " * 200,
        *(
            pad + value
            for value in (
                "01-23-45-67-89-ab",
                "aa:bb-cc:dd-ee:0f",
                "fe80::1",
                "1:2:3:4:5:6:7:8",
                "10/Oct/2000:13:55:36 -0700",
                "Jun 14 15:16:01",
                "5:06:07",
                "12/06/2026",
                "2024.01.02",
                "deadbeef-dead-beef-dead-beefdeadbeef",
                "a1b2c3",
                "12 KiB",
            )
        ),
    ]:
        cleaned = text.encode("utf-8", "replace").decode("utf-8")
        assert chain.key(cleaned) == reference_template_key(text)


def _template_from(rng: random.Random, tokens: list[str]) -> str:
    out = []
    for token in tokens:
        roll = rng.random()
        if roll < 0.15:
            out.append("<*>")
        elif roll < 0.25 and len(token) > 2:
            cut = rng.randrange(1, len(token))
            out.append(token[:cut] + "<*>" + token[cut + 1 :] if rng.random() < 0.5 else "<*>" + token[cut:])
        elif roll < 0.28:
            continue
        elif roll < 0.31:
            out.extend([token, rng.choice(["x", "<*>", "a<*>b"])])
        else:
            out.append(token)
    return " ".join(out)


@needs_re2
@pytest.mark.parametrize("seed", range(4))
def test_long_keys_match_templates_as_the_token_walk_does(seed: int) -> None:
    rng = random.Random(seed)
    words = ["a", "b", "ab", "<NUM>", "x.y", "a1", "é", "<*>", "at", "com.a.B(C.java:<NUM>)", "k=<ID>"]
    outcomes = set()
    for _ in range(400):
        tokens = [rng.choice(words) for _ in range(rng.randint(60, 200))]
        key = " ".join(tokens)
        other = [rng.choice(words) for _ in range(rng.randint(60, 200))]
        for template in (_template_from(rng, tokens), _template_from(rng, other), "<*> " + " ".join(tokens[-3:])):
            expected = _match_tokens(_compile_template(template), key.split(" "))
            assert template_matches_key(template, key) is expected, (template, key)
            outcomes.add(expected)
    assert outcomes == {True, False}
