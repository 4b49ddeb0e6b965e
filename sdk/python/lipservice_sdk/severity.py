"""Severity buckets shared by the SDK, the server and the simulator: one spelling table, one order."""

from __future__ import annotations

SEVERITIES: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
RANK: dict[str, int] = {name: i for i, name in enumerate(SEVERITIES)}
ALWAYS_KEPT: frozenset[str] = frozenset({"ERROR", "FATAL"})

_SPELLINGS: dict[str, str] = {
    "t": "TRACE",
    "trace": "TRACE",
    "trc": "TRACE",
    "finest": "TRACE",
    "finer": "TRACE",
    "verbose": "TRACE",
    "v": "TRACE",
    "d": "DEBUG",
    "debug": "DEBUG",
    "dbg": "DEBUG",
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
    "error": "ERROR",
    "err": "ERROR",
    "severe": "ERROR",
    "exception": "ERROR",
    "failure": "ERROR",
    "f": "FATAL",
    "fatal": "FATAL",
    "critical": "FATAL",
    "crit": "FATAL",
    "c": "FATAL",
    "alert": "FATAL",
    "emerg": "FATAL",
    "emergency": "FATAL",
    "panic": "FATAL",
    "failed": "ERROR",
}


def normalize_severity(value: str | int | None, default: str = "INFO") -> str:
    """Map a level name in any common spelling, or an OTLP severity number, to one of SEVERITIES."""
    if value is None:
        return default
    if isinstance(value, int):
        return severity_from_number(value, default)
    text = value.strip().lower()
    if not text:
        return default
    if text.isdigit():
        return severity_from_number(int(text), default)
    found = _SPELLINGS.get(text)
    if found is None:
        # Syslog-style decorations such as "<error>" or "[WARN]".
        found = _SPELLINGS.get(text.strip("[]<>(): "), default)
    return found


def severity_from_number(number: int, default: str = "INFO") -> str:
    """OTLP severity_number ranges: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL."""
    if number <= 0:
        return default
    if number >= 21:
        return "FATAL"
    return SEVERITIES[(number - 1) // 4]


def severity_number(severity: str) -> int:
    """The OTLP severity_number at the start of each bucket."""
    return RANK[severity] * 4 + 1


def is_always_kept(severity: str) -> bool:
    return severity in ALWAYS_KEPT
