"""The one severity reading: a level text and an OTLP severity number to a bucket, for every implementation.

The reading (mirrored as data in sdk/testdata/severity_rules.json for the Hog code and other SDKs):

1. The number: an integer n >= 1 falls in its OTLP bucket (1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR,
   21 and above FATAL); anything else is no number.
2. The text: lower-cased, its first 128 characters cut into words of ASCII letters and digits. No word: no text.
   One all-digit word: read as a number (step 1). The words joined by one space, when a known spelling: that
   bucket. Otherwise each word that is not all digits, as is or without its trailing digits (OpenTelemetry's
   `ERROR2`, slog's `ERROR+2`), is looked up and the highest known bucket wins (`fatal error`, `[WARN]`, `<err>`).
3. A number >= 17 says error whatever the text: the higher of the two. Otherwise a known text wins, then the number,
   then INFO.
"""

from __future__ import annotations

import re

SEVERITIES: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
RANK: dict[str, int] = {name: i for i, name in enumerate(SEVERITIES)}
ALWAYS_KEPT: frozenset[str] = frozenset({"ERROR", "FATAL"})
ERROR_NUMBER = 17
FATAL_NUMBER = 21
# Only the start of a level text is read, so a hostile text costs the same everywhere (Hog runs under 10 ms).
TEXT_LIMIT = 128

# Keys are lower-case words of [a-z0-9] joined by single spaces. Sources: OpenTelemetry, zap, logrus, log4j/logback,
# syslog (RFC 5424 and its keywords), Python logging, Go (log, glog, slog), .NET (ILogger, Serilog, NLog),
# java.util.logging, Android, Erlang/Elixir, Rust, Ruby.
SPELLINGS: dict[str, str] = {
    "t": "TRACE",
    "trace": "TRACE",
    "trc": "TRACE",
    "trce": "TRACE",
    "finest": "TRACE",
    "finer": "TRACE",
    "verbose": "TRACE",
    "vrb": "TRACE",
    "v": "TRACE",
    "all": "TRACE",
    "d": "DEBUG",
    "debug": "DEBUG",
    "dbg": "DEBUG",
    "dbug": "DEBUG",
    "fine": "DEBUG",
    "config": "DEBUG",
    "i": "INFO",
    "info": "INFO",
    "inf": "INFO",
    "information": "INFO",
    "informational": "INFO",
    "notice": "INFO",
    "n": "INFO",
    "ok": "INFO",
    "w": "WARN",
    "warn": "WARN",
    "warning": "WARN",
    "wrn": "WARN",
    "e": "ERROR",
    "err": "ERROR",
    "eror": "ERROR",
    "erro": "ERROR",
    "error": "ERROR",
    "errors": "ERROR",
    "severe": "ERROR",
    "exception": "ERROR",
    "failure": "ERROR",
    "failed": "ERROR",
    "fail": "ERROR",
    "dpanic": "ERROR",
    "f": "FATAL",
    "ftl": "FATAL",
    "fatal": "FATAL",
    "fatal error": "FATAL",
    "critical": "FATAL",
    "crit": "FATAL",
    "crt": "FATAL",
    "c": "FATAL",
    "a": "FATAL",
    "assert": "FATAL",
    "alert": "FATAL",
    "emerg": "FATAL",
    "emergency": "FATAL",
    "panic": "FATAL",
}

PROCEDURE: tuple[str, ...] = (
    "number: an integer n >= 1 is in the bucket whose [min, max] holds it (max null: no upper bound); "
    "anything else (absent, 0, negative, not an integer) is no number",
    "text: lower-case it, keep its first text_limit characters and take the words matching word_pattern; "
    "no word is no text",
    "text: exactly one word, all digits: read it as a number (the number rule)",
    "text: the words joined by one space, when a key of spellings: that bucket",
    "text: otherwise, for each word not all digits, look up the word, else the word without its trailing digits; "
    "the highest-ranked hit wins; no hit is no text",
    "combine: when the number's bucket is ERROR or FATAL, the higher of it and the text's bucket; otherwise the "
    "text's bucket, else the number's bucket, else default",
)

_WORD = re.compile(r"[a-z0-9]+")
_TRAILING_DIGITS = re.compile(r"[0-9]+$")


def severity_from_number(number: int | None, default: str | None = "INFO") -> str | None:
    """OTLP severity_number buckets; a number of 21 or more is FATAL, below 1 is no number."""
    if number is None or isinstance(number, bool) or number < 1:
        return default
    if number >= FATAL_NUMBER:
        return "FATAL"
    return SEVERITIES[(number - 1) // 4]


def severity_of_text(text: str | None) -> str | None:
    """The bucket a level text names, or None when it names none we know (step 2 of the module's reading)."""
    if not text:
        return None
    words = _WORD.findall(text.lower()[:TEXT_LIMIT])
    if not words:
        return None
    if len(words) == 1 and words[0].isdigit():
        return severity_from_number(int(words[0]), None)
    found = SPELLINGS.get(" ".join(words))
    if found is not None:
        return found
    best: str | None = None
    for word in words:
        if word.isdigit():
            continue
        hit = SPELLINGS.get(word) or SPELLINGS.get(_TRAILING_DIGITS.sub("", word))
        if hit is not None and (best is None or RANK[hit] > RANK[best]):
            best = hit
    return best


def _as_number(number: object) -> int | None:
    if isinstance(number, bool):
        return None
    if isinstance(number, int):
        return number
    if isinstance(number, float):
        return int(number) if number == number and abs(number) != float("inf") else None
    if isinstance(number, str):
        text = number.strip()
        return int(text) if text.isascii() and text.isdigit() else None
    return None


def read_severity(text: object = None, number: object = None, default: str = "INFO") -> str:
    """The bucket of a record from its severity text and severity number (the module's reading)."""
    from_number = severity_from_number(_as_number(number), None)
    from_text = severity_of_text(text) if isinstance(text, str) else None
    if from_number is not None and RANK[from_number] >= RANK["ERROR"]:
        if from_text is not None and RANK[from_text] > RANK[from_number]:
            return from_text
        return from_number
    return from_text or from_number or default


_READ_TEXTS: dict[tuple[str, str], str] = {}  # level texts are few; remembered so a line costs one lookup


def normalize_severity(value: str | int | None, default: str = "INFO") -> str:
    """A level name in any known spelling, or an OTLP severity number, to one of SEVERITIES."""
    if isinstance(value, int) and not isinstance(value, bool):
        return read_severity(None, value, default)
    if type(value) is not str or len(value) > 64:
        return read_severity(value, None, default)
    found = _READ_TEXTS.get((value, default))
    if found is None:
        found = read_severity(value, None, default)
        if len(_READ_TEXTS) >= 4096:  # a stream of made-up level texts only bounds the memo
            _READ_TEXTS.clear()
        _READ_TEXTS[(value, default)] = found
    return found


def is_error(text: object = None, number: object = None) -> bool:
    return read_severity(text, number) in ALWAYS_KEPT


def severity_number(severity: str) -> int:
    """The OTLP severity_number at the start of each bucket."""
    return RANK[severity] * 4 + 1


def is_always_kept(severity: str) -> bool:
    return severity in ALWAYS_KEPT


def error_spellings() -> list[str]:
    """Every known spelling that reads as ERROR or FATAL, sorted (for filters that match texts exactly)."""
    return sorted(key for key, value in SPELLINGS.items() if value in ALWAYS_KEPT)


def rules_document() -> dict[str, object]:
    """The reading as data, for implementations in other languages (sdk/testdata/severity_rules.json)."""
    return {
        "format": "lipservice.severity_rules/v1",
        "severities": list(SEVERITIES),
        "always_kept": sorted(ALWAYS_KEPT, key=RANK.__getitem__),
        "number_buckets": [
            {"min": 1, "max": 4, "severity": "TRACE"},
            {"min": 5, "max": 8, "severity": "DEBUG"},
            {"min": 9, "max": 12, "severity": "INFO"},
            {"min": 13, "max": 16, "severity": "WARN"},
            {"min": ERROR_NUMBER, "max": FATAL_NUMBER - 1, "severity": "ERROR"},
            {"min": FATAL_NUMBER, "max": None, "severity": "FATAL"},
        ],
        "error_number_min": ERROR_NUMBER,
        "word_pattern": _WORD.pattern,
        "text_limit": TEXT_LIMIT,
        "default": "INFO",
        "spellings": dict(sorted(SPELLINGS.items())),
        "error_spellings": error_spellings(),
        "procedure": list(PROCEDURE),
    }
