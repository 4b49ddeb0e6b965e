"""The one PII redaction (emails, IPs, secrets and tokens, cards, phones, user ids): applied to everything sent to an
LLM and to every log text stored (pattern examples, template keys, explanations)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

EMAIL = "EMAIL"
IP = "IP"
SECRET = "SECRET"  # noqa: S105 - a label, not a password
CARD = "CARD"
PHONE = "PHONE"
USER = "USER"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(?:bearer|basic|token)\s+([A-Za-z0-9._~+/-]{8,}=*)")
_VENDOR_KEY = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}"
    r"|ph[cx]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20}|npm_[A-Za-z0-9]{36})\b"
)
_SECRET_VALUE = re.compile(
    r"(?i)\b(?:password|passwd|pwd|pass|secret|client[_-]?secret|token|access[_-]?token|refresh[_-]?token|api[_-]?key"
    r"|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|auth|authorization|session[_-]?id|sessionid|cookie"
    r"|signature|sig)\b[\"']?\s*[=:]\s*[\"']?(?!(?:bearer|basic)\b)([^\s\"',;&})]{4,})"
)
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"
)
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[A-Za-z0-9]+)?(?![\w:]|\.\d)"
)
# Cards are written whole (13-16 digits) or in their printed groups (4-4-4-4[-3], Amex 4-6-5), never as a
# longer run of digits, which in logs is an id (`blk_-5572208681898881669`).
_CARD_CANDIDATE = re.compile(
    r"(?<![\w.-])(?:[2-6]\d{12,15}|[2-6]\d{3}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|3\d{3}([ -])\d{6}\2\d{5})"
    r"(?![\w-]|\.\d)"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,6}){1,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])"
)
_USER_PATH = re.compile(r"(?i)/(?:users?|accounts?|customers?|members?|profiles?|people|persons?|u|~)/([^/\s?#\"']+)")
_USER_VALUE = re.compile(
    r"(?i)\b(?:user(?:name|_?id)?|uid|login|account(?:_?id)?|customer(?:_?id)?|member(?:_?id)?)"
    r"\s*[=:]\s*[\"']?([^\s\"',;&)}\]]+)"
)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_ipv6(text: str) -> bool:
    if text.count(":") < 2 or not any(c.isalnum() for c in text):
        return False
    try:
        return ipaddress.ip_address(text.split("%")[0]).version == 6
    except ValueError:
        return False


def _whole(
    kind: str, pattern: re.Pattern[str], check: Callable[[str], bool] | None = None
) -> Callable[[str], list[Span]]:
    def find(text: str) -> list[Span]:
        return [Span(m.start(), m.end(), kind) for m in pattern.finditer(text) if check is None or check(m.group(0))]

    return find


def _value(
    kind: str, pattern: re.Pattern[str], check: Callable[[str], bool] | None = None
) -> Callable[[str], list[Span]]:
    """Only the value after a key is sensitive: `password=hunter2` keeps `password=`, which says what was there."""

    def find(text: str) -> list[Span]:
        return [Span(m.start(1), m.end(1), kind) for m in pattern.finditer(text) if check is None or check(m.group(1))]

    return find


def _secret_like(value: str) -> bool:
    """A word such as `SIMPLE` or `Token` after `auth:` is a mode or a name; a secret has digits or length."""
    return len(value) >= 6 and (any(c.isdigit() for c in value) or len(value) >= 12)


def _card(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits)


_ANY_DIGIT = re.compile(r"[0-9]")
# Every match of _VENDOR_KEY holds one of these.
_VENDOR_PREFIXES = (
    "sk-",
    "sk_",
    "pk_",
    "rk_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "AKIA",
    "AIza",
    "phc_",
    "phx_",
    "glpat-",
    "npm_",
)
# Every match of the case-insensitive _BEARER, _SECRET_VALUE and _USER_VALUE holds one of its words, in ASCII text
# lowered; in other text re's IGNORECASE also folds a few non-ASCII letters (ſ, K, ı, İ) to these, so it always runs.
_BEARER_WORDS = ("bearer", "basic", "token")
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "session", "cookie", "sig")
_USER_WORDS = ("user", "uid", "login", "account", "customer", "member")


@dataclass(frozen=True)
class _Text:
    """What the finders' cheap guards ask of a text, computed once: most log lines need only a few regexes."""

    text: str
    lower: str
    digit: bool
    separator: bool
    ascii: bool

    def says(self, words: tuple[str, ...]) -> bool:
        return not self.ascii or any(word in self.lower for word in words)


def _vendor_prefixed(t: _Text) -> bool:
    text = t.text
    # All prefixes but two hold a "_" or a "-": most texts are ruled out by two searches.
    if "_" not in text and "-" not in text:
        return "AKIA" in text or "AIza" in text
    return any(p in text for p in _VENDOR_PREFIXES)


# Every _IPV6_CANDIDATE match holds two colons with at most four hex digits between them.
_TWO_COLONS = re.compile(r":[0-9A-Fa-f]{0,4}:")


def _guarded(guard: Callable[[_Text], bool], finder: Callable[[str], list[Span]]) -> Callable[[_Text], list[Span]]:
    return lambda t: finder(t.text) if guard(t) else []


# Earlier finders win overlaps, so specific shapes (a JWT, an email) beat generic ones (a key=value, a phone). Each
# guard is a necessary condition of its regex, so skipping on it never changes the result.
_FINDERS: tuple[tuple[str, Callable[[_Text], list[Span]]], ...] = (
    (SECRET, _guarded(lambda t: "eyJ" in t.text, _whole(SECRET, _JWT))),
    (SECRET, _guarded(_vendor_prefixed, _whole(SECRET, _VENDOR_KEY))),
    (SECRET, _guarded(lambda t: t.says(_BEARER_WORDS), _value(SECRET, _BEARER))),
    (EMAIL, _guarded(lambda t: "@" in t.text, _whole(EMAIL, _EMAIL))),
    (SECRET, _guarded(lambda t: t.separator and t.says(_SECRET_WORDS), _value(SECRET, _SECRET_VALUE, _secret_like))),
    (CARD, _guarded(lambda t: t.digit, _whole(CARD, _CARD_CANDIDATE, _card))),
    (IP, _guarded(lambda t: _TWO_COLONS.search(t.text) is not None, _whole(IP, _IPV6_CANDIDATE, _is_ipv6))),
    (IP, _guarded(lambda t: t.digit and "." in t.text, _whole(IP, _IPV4))),
    (PHONE, _guarded(lambda t: t.digit, _whole(PHONE, _PHONE))),
    (USER, _guarded(lambda t: "/" in t.text, _value(USER, _USER_PATH))),
    (USER, _guarded(lambda t: t.separator and t.says(_USER_WORDS), _value(USER, _USER_VALUE))),
)
_ALL = tuple(finder for _, finder in _FINDERS)
# redact_key leaves user spans as they are; they come last, so they never keep another span out either.
_NOT_USER = tuple(finder for kind, finder in _FINDERS if kind != USER)


def find_pii(text: str) -> list[Span]:
    """Non-overlapping PII spans in text order."""
    return _find(text, _ALL)


def _find(text: str, finders: tuple[Callable[[_Text], list[Span]], ...]) -> list[Span]:
    probe = _Text(text, text.lower(), _ANY_DIGIT.search(text) is not None, "=" in text or ":" in text, text.isascii())
    chosen: list[Span] = []
    for finder in finders:
        for span in finder(probe):
            if span.end > span.start and all(span.end <= c.start or span.start >= c.end for c in chosen):
                chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def redact(text: str) -> str:
    """Replace each PII span by `<KIND>`."""
    parts: list[str] = []
    position = 0
    for span in find_pii(text):
        parts.append(text[position : span.start])
        parts.append(f"<{span.kind}>")
        position = span.end
    parts.append(text[position:])
    return "".join(parts)


_PLACEHOLDER = re.compile(r"<[A-Z]+>|<\*>")
# What `redact` leaves in a text: a stored example holding one no longer shows the exact line it was.
REDACTED = re.compile("<(?:" + "|".join((EMAIL, IP, SECRET, CARD, PHONE, USER)) + ")>")


def redact_key(key: str) -> str:
    """A template key with the secrets and contact data its masking rules left (a token, a password) replaced by
    the wildcard `<*>`, so that the templates mined from it still match every line it stood for. Spans already made
    of placeholders (`<EMAIL>`, `<NUM>`) are left as they are."""
    parts: list[str] = []
    position = 0
    # A user name that survived masking is one constant across the pattern's lines (`user=root`), so it names an
    # account, not a person; wildcarding it would merge distinct events.
    for span in _find(key, _NOT_USER):
        if not any(c.isalnum() for c in _PLACEHOLDER.sub("", key[span.start : span.end])):
            continue
        parts.append(key[position : span.start])
        parts.append("<*>")
        position = span.end
    if not parts:
        return key
    parts.append(key[position:])
    return "".join(parts)
