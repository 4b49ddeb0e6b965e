"""Template keys and signatures: one ordered list of RE2-compatible masking rules shared by SDK, server and ClickHouse.

API:
    MASKING_RULES: tuple[MaskingRule, ...]      ordered (name, pattern, placeholder); apply each in turn with
                                                re.sub / RE2 GlobalReplace / ClickHouse replaceRegexpAll
    MAX_MESSAGE_CHARS                           messages are cut to this many code points first (substringUTF8)
    template_key(message) -> str                the masked, whitespace-normalised message
    signature_of_key(key) -> str                first 16 hex chars of sha256(key as UTF-8): 64 bits as text
    signature(message) -> str                   signature_of_key(template_key(message))
    reference_template_key(message) -> str      the plain rule chain; template_key is a faster exact equivalent
                                                (memoised token by token; long lines run whole on RE2 if installed)
    template_to_regex(template) -> str          anchored RE2 regex for a miner template over a template key
    template_matches(template, message) -> bool does the template cover the message's key (or its raw text)
    template_matches_key(template, key) -> bool the same for a key
Templates are space-separated tokens: a whole-token `<*>` matches any run of whole tokens (none included), a `<*>`
inside a token (`blk_<*>`) any run of non-space characters, and everything else matches literally.

Placeholders: <UUID> <TS> <MAC> <IP> (v4 or v6, port included) <EMAIL> <HEX> <NUM> (sign, decimals and a glued or
spaced unit included: 12ms, 3.5 GB) <ID> (the value of an id-like key=value) and "<STR>" / '<STR>' (quoted values
without spaces). Replacements may name groups (\\1, \\2, \\4) to put back a delimiter or key captured around a
value, because RE2 has no lookaround; re.sub, RE2 and ClickHouse replaceRegexpAll read them alike. Rules use ASCII
classes only ([0-9], never \\d, \\w or \\b), so Python's Unicode-aware re and RE2 agree; number_unit is listed
twice because a match consumes the character after its unit. ClickHouse equivalent of the cut:
substringUTF8(body, 1, 4096); in Python, lone surrogates (undecodable input) become '?' first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class MaskingRule:
    name: str
    pattern: str
    placeholder: str


MAX_MESSAGE_CHARS = 4096
WILDCARD = "<*>"

_D = "(^|[^0-9A-Za-z])"  # a value starts at the start of text or after a non-alphanumeric character
_H = "[0-9a-fA-F]"
_MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_TIME = "[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]{1,9})?"
_NUMBER = "[-+]?[0-9]+([.,][0-9]+)*"
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "ms", "us", "ns", "sec", "s")
_UNIT = "(" + "|".join(_UNITS) + ")"
_UNIT_END = "([ ,;.)}|/]|\\]|$)"
_H16 = "([0-9a-f]{1,4}|[0-9A-F]{1,4})"  # one case per group, so Abc::Def is not an address
_PAIR = "([0-9][a-fA-F]|[a-fA-F][0-9])"

MASKING_RULES: tuple[MaskingRule, ...] = (
    MaskingRule("whitespace", "[ \\t\\r\\n\\f\\x0b]+", " "),
    MaskingRule("trim", "^ | $", ""),
    MaskingRule("email", "[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}", "<EMAIL>"),
    MaskingRule("uuid", _H + "{8}-" + _H + "{4}-" + _H + "{4}-" + _H + "{4}-" + _H + "{12}", "<UUID>"),
    MaskingRule("quoted_double", _D + '"([^"\\\\ ]|\\\\[^ ]){0,256}"', '\\1"<STR>"'),
    MaskingRule("quoted_single", _D + "'[^' ]{0,128}'", "\\1'<STR>'"),
    MaskingRule(
        "datetime_iso",
        "[0-9]{4}[-/.][0-9]{2}[-/.][0-9]{2}"
        "([T -][0-9]{2}[:.][0-9]{2}([:.][0-9]{2})?([.,][0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})?)?",
        "<TS>",
    ),
    MaskingRule("datetime_http", "[0-9]{1,2}/" + _MONTH + "/[0-9]{4}:" + _TIME + "( [+-][0-9]{4})?", "<TS>"),
    MaskingRule(
        "datetime_text",
        "("
        + _WEEKDAY
        + ",? )?("
        + _MONTH
        + " +[0-9]{1,2}|[0-9]{1,2} "
        + _MONTH
        + ")( [0-9]{4})? "
        + _TIME
        + "( [0-9]{4})?( (UTC|GMT|Z|[+-][0-9]{4}))?",
        "<TS>",
    ),
    MaskingRule("mac", _H + "{2}([:-]" + _H + "{2}){5}", "<MAC>"),
    MaskingRule("time", _TIME + "(Z|[+-][0-9]{2}:?[0-9]{2})?", "<TS>"),
    MaskingRule("date", "(^|[^0-9A-Za-z/])[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}", "\\1<TS>"),
    MaskingRule("datetime_join", "<TS>( <TS>)+", "<TS>"),
    MaskingRule(
        "ipv6",
        "(^|[^0-9A-Za-z:.])\\[?(("
        + _H16
        + ":){7}"
        + _H16
        + "|("
        + _H16
        + ":){1,7}(:"
        + _H16
        + "){1,7}|("
        + _H16
        + ":){1,7}:|::("
        + _H16
        + ":){0,6}"
        + _H16
        + ")(\\.[0-9]{1,3}){0,3}(\\]:[0-9]{1,5}|\\])?",
        "\\1<IP>",
    ),
    MaskingRule("ipv4", "(^|[^0-9A-Za-z.])[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(:[0-9]{1,5})?", "\\1<IP>"),
    MaskingRule(
        "key_id",
        "(^|[^0-9A-Za-z])([A-Za-z0-9_.-]{0,64}([_.-][Ii][Dd]|Id|ID|[_.-]?[Tt]oken|TOKEN|[_.-]?[Ss]ession|SESSION|"
        "[_.-][Kk]ey|Key|KEY)|id|ID|key|token|session)=[^ ,;&\"'<>]+",
        "\\1\\2=<ID>",
    ),
    MaskingRule("hex_prefixed", _D + "0[xX]" + _H + "+", "\\1<HEX>"),
    MaskingRule("hex", _D + "(" + _H + "{4,}" + _PAIR + _H + "*|" + _H + "*" + _PAIR + _H + "{4,})", "\\1<HEX>"),
    # Twice: a match consumes the delimiter after its unit, which can hide the next value from the first pass.
    MaskingRule("number_unit", _D + _NUMBER + " " + _UNIT + _UNIT_END, "\\1<NUM>\\4"),
    MaskingRule("number_unit_again", _D + _NUMBER + " " + _UNIT + _UNIT_END, "\\1<NUM>\\4"),
    MaskingRule("number", _D + _NUMBER + "[A-Za-z0-9%]*", "\\1<NUM>"),
)

# A rule is skipped when none of its required substrings occurs: a pure speed-up that never changes a key,
# since each listed substring (or a digit) is part of every possible match of that rule.
_REQUIRES: dict[str, tuple[str, ...]] = {
    "email": ("@",),
    "uuid": ("-",),
    "quoted_double": ('"',),
    "quoted_single": ("'",),
    "datetime_iso": ("-", "/", "."),
    "datetime_http": ("/",),
    "datetime_text": (":",),
    "mac": (":", "-"),
    "time": (":",),
    "date": ("/",),
    "datetime_join": ("<TS> <TS>",),
    "ipv6": (":",),
    "ipv4": (".",),
    "key_id": ("=",),
    "hex_prefixed": ("0x", "0X"),
    "number_unit": (" ",),
    "number_unit_again": (" ",),
}
_NEEDS_DIGIT: frozenset[str] = frozenset(
    {
        "datetime_iso",
        "datetime_http",
        "datetime_text",
        "time",
        "date",
        "ipv4",
        "hex",
        "number_unit",
        "number_unit_again",
        "number",
    }
)
_DIGITS = re.compile("[0-9]")
_COMPILED: tuple[tuple[re.Pattern[str], str, tuple[str, ...], bool], ...] = tuple(
    (re.compile(rule.pattern), rule.placeholder, _REQUIRES.get(rule.name, ()), rule.name in _NEEDS_DIGIT)
    for rule in MASKING_RULES
)


_Rule = tuple[re.Pattern[str], str, tuple[str, ...], bool]


def _apply(rules: tuple[_Rule, ...], text: str) -> str:
    has_digit = _DIGITS.search(text) is not None
    for pattern, placeholder, requires, needs_digit in rules:
        if needs_digit and not has_digit:
            continue
        if requires and not any(r in text for r in requires):
            continue
        text = pattern.sub(placeholder, text)
    return text


_SHAPE = str.maketrans("12345678", "99999999")
_SHAPE_ALL = str.maketrans("012345678", "999999999")
_BYTE_SHAPE = bytes.maketrans(b"12345678", b"99999999")
_BYTE_SHAPE_ALL = bytes.maketrans(b"012345678", b"999999999")
_CACHE_LIMIT = 32_768


class _Memo:
    """A bounded map kept as two generations: when the recent one fills up it becomes the old one, and entries
    still in use are promoted back, so memory stays bounded without dropping the hot set at once."""

    def __init__(self) -> None:
        self.recent: dict[Hashable, str] = {}
        self.old: dict[Hashable, str] = {}

    def get(self, key: Hashable) -> str | None:
        value = self.recent.get(key)
        if value is None:
            value = self.old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: Hashable, value: str) -> None:
        if len(self.recent) >= _CACHE_LIMIT:
            self.old = self.recent
            self.recent = {}
        self.recent[key] = value


_LINES = _Memo()
_MESSAGE_MEMO_CHARS = 512  # longer lines are rarely repeated exactly and would crowd the message memo
_HEX_CHARS = "0123456789abcdefABCDEF"
_HEX_CLASSES = str.maketrans(_HEX_CHARS, "9999999999aaaaaaaaaaaa")
_PARTIAL = _Memo()  # "" marks a partial shape whose folded digits can survive into the key
_AFTER_LETTER = re.compile("(?<=[A-Za-z])[0-9]+")
_FOLDABLE = re.compile("(?<![A-Za-z0-9])[0-9]+")
_NINES = (_SHAPE_ALL, _SHAPE)  # indexed by keeps_zero
_EIGHTS = (str.maketrans("0123456789", "8888888888"), str.maketrans("123456789", "888888888"))


class _TokenMasker:
    """Applies the token-local rules (all rules but _CROSS_RULES, in order) to space-free tokens, memoised per token,
    per digit shape and per hex class pattern; the shortcuts in _miss hold for exactly that rule list."""

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self.rules = rules
        # _apply skips a rule that needs a digit the text lacks or none of whose required substrings it holds; a
        # token that every rule would skip comes out unchanged, so that test is hoisted here (exactly the same).
        self.unconditional = any(not needs_digit and not requires for _, _, requires, needs_digit in rules)
        self.clues = tuple(sorted({r for _, _, requires, needs_digit in rules if not needs_digit for r in requires}))
        self.tokens = _Memo()
        self.shapes = _Memo()  # "" marks a shape whose masked form keeps digits
        self.hex_classes = _Memo()  # "" marks a class pattern that leaves the token as it is

    def mask(self, text: str) -> str:
        get = self.tokens.recent.get
        return " ".join([get(token) or self._miss(token) for token in text.split(" ")])

    def _miss(self, token: str) -> str:
        known = self.tokens.get(token)
        if known is not None:
            return known
        if not self.unconditional and _DIGITS.search(token) is None and not any(c in token for c in self.clues):
            return token
        # Of the token-local rules only hex_prefixed can match a 0x token made of hex digits, and it takes it whole.
        if token[:2] in ("0x", "0X") and len(token) > 2 and not token[2:].strip(_HEX_CHARS):
            return "<HEX>"
        if not token.strip(_HEX_CHARS):
            # A token of hex characters only meets just the hex and number rules, which see digit-or-letter
            # classes: its class pattern decides whether it becomes <HEX>, <NUM> or stays as it is.
            classes = token.translate(_HEX_CLASSES)
            out = self.hex_classes.get(classes)
            if out is None:
                out = _apply(self.rules, token)
                out = out if out in ("<HEX>", "<NUM>") else ""
                self.hex_classes.put(classes, out)
            if out:
                return out
        # Rules treat the digits 1-9 alike (and 0 too without a 0x), so a token masks like its digit shape
        # whenever the masked shape keeps no digit: one regex pass serves every value of a numeric field.
        shape = token.translate(_SHAPE if "0x" in token or "0X" in token else _SHAPE_ALL)
        if shape != token:
            out = self.shapes.get(shape)
            if out is None:
                out = _apply(self.rules, shape)
                if _DIGITS.search(out) is not None:
                    out = ""
                self.shapes.put(shape, out)
            if out:
                return out
        out = _apply(self.rules, token)
        self.tokens.put(token, out)
        return out


# Fast path: only the whitespace, trim, datetime_text, datetime_join and number_unit rules and the date-time or zone
# branches of datetime_iso and datetime_http can match across a space. Whitespace is normalised first; a text
# without a _CROSS_TOKEN hit (which finds every place where those could match) is then masked token by token with
# the other rules, in order, and datetime_join runs last, which is safe because no later rule creates, consumes or
# separates a "<TS>". Any other text goes through the whole chain.
_CROSS_RULES: frozenset[str] = frozenset(
    {"whitespace", "trim", "datetime_text", "datetime_join", "number_unit", "number_unit_again"}
)
_ALL_TOKENS = _TokenMasker(
    tuple(c for c, rule in zip(_COMPILED, MASKING_RULES, strict=True) if rule.name not in _CROSS_RULES)
)
_CROSS_TOKEN = re.compile(
    " (?:(?<=[0-9]{2} )[0-9]{2}[:.]|(?<=[0-9] )(?:[+-][0-9]|"
    + _MONTH
    + "|"
    + _UNIT
    + _UNIT_END
    + ")|(?<=(?:"
    + _MONTH[1:-1]
    + ") )[0-9])"
)
_SPACE_RULES = 2  # MASKING_RULES starts with whitespace and trim
_SPACES = _COMPILED[0][0]
_ODD_SPACING = ("  ", "\t", "\n", "\r", "\f", "\x0b")
_JOIN_TS = re.compile(next(r.pattern for r in MASKING_RULES if r.name == "datetime_join"))


def _clean(message: str) -> str:
    text = message[:MAX_MESSAGE_CHARS]
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def template_key(message: str) -> str:
    """Apply MASKING_RULES in order to the first MAX_MESSAGE_CHARS code points of the message."""
    # The rules treat the digits 1-9 alike (and 0 too when the text holds no 0x prefix), so a text keys like its
    # digit-folded shape whenever that key keeps no digit: lines that differ only in numbers cost one lookup.
    shape: str | bytes
    if len(message) <= MAX_MESSAGE_CHARS and message.isascii():
        text = message
        keeps_zero = "0x" in text or "0X" in text
        shape = text.encode("ascii").translate(_BYTE_SHAPE if keeps_zero else _BYTE_SHAPE_ALL)
    else:
        text = _clean(message)
        keeps_zero = "0x" in text or "0X" in text
        if text.isascii():
            shape = text.encode("ascii").translate(_BYTE_SHAPE if keeps_zero else _BYTE_SHAPE_ALL)
        else:
            shape = text.translate(_SHAPE if keeps_zero else _SHAPE_ALL)
    key = _LINES.recent.get(shape) or _LINES.get(shape)
    if key is not None:
        return key
    if len(text) > _LONG_TEXT:
        chain = _long_chain()
        if chain is not None:
            key = chain.key(text)
            if key is not None:
                if _DIGITS.search(key) is None:
                    _LINES.put(shape, key)
                return key
    partial: tuple[str | bytes, str] | None = None
    if _DIGITS.search(text) is not None:
        # Some keys keep digits (ssh2, SOCKS5). Then the shape plus the digit runs that follow a letter (the only
        # runs that can survive) is the cache key, valid when the other runs never reach the key.
        partial = (shape, "\x00".join(_AFTER_LETTER.findall(text)))
        cached = _PARTIAL.recent.get(partial) or _PARTIAL.get(partial)
        if cached:
            return cached
    key = _key_of(text)
    if _DIGITS.search(key) is None:
        _LINES.put(shape, key)
    elif partial is not None and _PARTIAL.get(partial) is None:
        # Folding the other runs to 9s and to 8s gives one key exactly when none of them reaches the key.
        nines = _key_of(_fold(text, keeps_zero, _NINES))
        _PARTIAL.put(partial, nines if nines == _key_of(_fold(text, keeps_zero, _EIGHTS)) else "")
    return key


def _fold(text: str, keeps_zero: bool, tables: tuple[dict[int, int], dict[int, int]]) -> str:
    table = tables[keeps_zero]
    return _FOLDABLE.sub(lambda match: match.group(0).translate(table), text)


def _key_of(text: str) -> str:
    if not text:
        return text
    if text[0] == " " or text[-1] == " " or any(odd in text for odd in _ODD_SPACING):
        text = _SPACES.sub(" ", text).strip(" ")  # exactly the whitespace and trim rules
        if not text:
            return text
    crosses = _CROSS_TOKEN.search(text) is not None
    key = _apply(_COMPILED[_SPACE_RULES:], text) if crosses else _ALL_TOKENS.mask(text)
    if "<TS> <TS>" in key:
        key = _JOIN_TS.sub("<TS>", key)
    return key


_LONG_TEXT = 256  # code points: past this a line's tokens rarely repeat, so the token memo seldom helps
_FOLD_DIGITS = bytes.maketrans(b"012345678", b"999999999")
_FOLD_HEX = bytes.maketrans(b"0123456789abcdefABCDEF", b"h" * 22)
# Finer skip tests for the RE2 chain, where a rule's scan costs more than a few substring searches: every match of
# the rule holds one of these in the text with its digits folded to 9 (True) or its hex digits to h (False).
_CLUES: dict[str, tuple[tuple[bool, bytes], ...]] = {
    "uuid": ((False, b"hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh"),),
    "datetime_iso": ((True, b"9999-99"), (True, b"9999/99"), (True, b"9999.99")),
    "datetime_http": ((True, b"/9999:9"),),
    "datetime_text": ((True, b"9:99:99"),),
    "mac": ((False, b"hh:hh"), (False, b"hh-hh")),
    "time": ((True, b"9:99:99"),),
    "date": ((True, b"9/99"),),
    "ipv6": ((False, b"h:h"), (False, b"::")),  # (H16:){7}H16 holds h:h, every other branch ::
    "ipv4": ((True, b"9.9"),),
    "hex": ((False, b"hhhhhh"),),
    "number_unit": ((True, b"9 "),),
    "number_unit_again": ((True, b"9 "),),
}


class _Re2Chain:
    """MASKING_RULES in order, run by RE2 over the UTF-8 bytes of a text: one linear C++ scan per rule, for long
    lines whose tokens are mostly unique (stack traces, key=value dumps), where masking token by token is slow.

    The same key as the plain chain: the rules are RE2-compatible by construction (ASCII classes, no lookaround,
    checked by `patterns.sources.masking.rule_issues`), RE2 picks the same leftmost-first match as Python's re, and
    a rule's ASCII classes never split a multi-byte character, so matching bytes is matching code points. The skip
    tests are those of _apply."""

    def __init__(self, engine: Any, options: Any) -> None:
        self.anchor = engine.RE2.Anchor.UNANCHORED
        self.steps: list[
            tuple[Any, tuple[bytes | int, ...], Any, tuple[bytes, ...], bool, tuple[tuple[bool, bytes], ...]]
        ] = []
        # The whitespace and trim rules run first in Python (as in _key_of): on RE2 they would match every space.
        rules = zip(MASKING_RULES[_SPACE_RULES:], _COMPILED[_SPACE_RULES:], strict=True)
        for rule, (_, _, requires, needs_digit) in rules:
            regexp = engine.RE2(rule.pattern.encode("ascii"), options)
            if not regexp.ok():
                raise ValueError(f"RE2 rejects rule {rule.name}")
            pieces = re.split(r"\\([0-9])", rule.placeholder)
            template = tuple(int(p) if i % 2 else p.encode("ascii") for i, p in enumerate(pieces) if p)
            # `\1<X>` after a pattern that opens with group 1: the text up to the group's end is kept whole.
            lead = template[1] if rule.pattern.startswith("(^|") and len(template) == 2 and template[0] == 1 else None
            needles = tuple(r.encode("ascii") for r in requires)
            self.steps.append((regexp, template, lead, needles, needs_digit, _CLUES.get(rule.name, ())))

    def key(self, text: str) -> str | None:
        """The key of a cleaned text, or None if a rule matched the empty string (then re.sub must decide)."""
        if text[:1] == " " or text[-1:] == " " or any(odd in text for odd in _ODD_SPACING):
            text = _SPACES.sub(" ", text).strip(" ")  # exactly the whitespace and trim rules, else no-ops
        data = text.encode("utf-8")
        has_digit = _DIGITS.search(text) is not None
        digits = hexes = b""  # data's folded forms, made when a clue is first needed and after each change
        for regexp, template, lead, requires, needs_digit, clues in self.steps:
            if needs_digit and not has_digit:
                continue
            # Loops, not any(): a generator per rule and line costs about as much as the substring searches.
            if requires:
                for needle in requires:
                    if needle in data:
                        break
                else:
                    continue
            if clues:
                if not digits and data:
                    digits, hexes = data.translate(_FOLD_DIGITS), data.translate(_FOLD_HEX)
                for folded, needle in clues:
                    if needle in (digits if folded else hexes):
                        break
                else:
                    continue
            replaced = self._sub(regexp, template, lead, data)
            if replaced is None:
                return None
            if replaced is not data:
                data, digits, hexes = replaced, b"", b""
        return data.decode("utf-8")

    def _sub(self, regexp: Any, template: tuple[bytes | int, ...], lead: bytes | None, data: bytes) -> bytes | None:
        match, anchor, end = regexp.Match, self.anchor, len(data)
        out: list[bytes] = []
        position = 0
        while True:
            # Match treats the bytes before `position` as context, so ^ holds only at 0, as in re.sub.
            spans = match(anchor, data, position, end)
            start, stop = spans[0]
            if start < 0:
                break
            if stop == start:
                return None
            if lead is not None:
                out.append(data[position : spans[1][1]])  # group 1 takes part in every match
                out.append(lead)
                position = stop
                continue
            out.append(data[position:start])
            for piece in template:
                if isinstance(piece, bytes):
                    out.append(piece)
                else:
                    group_start, group_stop = spans[piece]
                    if group_start >= 0:
                        out.append(data[group_start:group_stop])
            position = stop
        if not out:
            return data
        out.append(data[position:])
        return b"".join(out)


@lru_cache(maxsize=1)
def _re2_engine() -> tuple[Any, Any] | None:
    """google-re2's compiled-regex interface and quiet options, when it is installed (the server has it); the SDK
    needs no RE2 and then masks and matches long lines in Python, to the same results."""
    try:
        from re2 import Options, _re2

        options = Options()
        options.log_errors = False
        return _re2, options
    except Exception:  # no RE2, or a build without this interface
        return None


@lru_cache(maxsize=1)
def _long_chain() -> _Re2Chain | None:
    engine = _re2_engine()
    if engine is None:
        return None
    try:
        return _Re2Chain(*engine)
    except Exception:  # a rule this RE2 build rejects: mask token by token
        return None


@lru_cache(maxsize=4096)
def _template_program(template: str) -> Any:
    """template_to_regex compiled by RE2, or None (no RE2, or a template too large for it)."""
    engine = _re2_engine()
    if engine is None:
        return None
    program = engine[0].RE2(template_to_regex(template).encode("utf-8"), engine[1])
    return program if program.ok() else None


def _long_key_matches(template: str, key: str) -> bool | None:
    """template_matches_key for a long, well-formed key (single spaces, none at the ends) in one RE2 pass; None
    when RE2 cannot answer. The regex and the token walk agree on such keys: both read whole-token `<*>` as any run
    of tokens and an in-token `<*>` as any run of non-space characters."""
    if "  " in key or key[0] == " " or key[-1] == " ":
        return None
    program = _template_program(template)
    if program is None:
        return None
    try:
        data = key.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return bool(program.Match(program.Anchor.ANCHOR_BOTH, data, 0, len(data))[0][0] >= 0)


def reference_template_key(message: str) -> str:
    """The plain rule chain that template_key must always equal; slower, kept for tests and other implementations."""
    return _apply(_COMPILED, _clean(message))


def signature_of_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]


_SIGNATURES = _Memo()  # template key -> signature
_MESSAGES = _Memo()  # message -> signature, for lines repeated word for word


def signature(message: str) -> str:
    """signature_of_key(template_key(message)), remembered per message and per key (the SDK's per-line cost)."""
    found = _MESSAGES.recent.get(message)
    if found is not None:
        return found
    key = template_key(message)
    sig = _SIGNATURES.recent.get(key) or _SIGNATURES.get(key)
    if sig is None:
        sig = signature_of_key(key)
        _SIGNATURES.put(key, sig)
    if len(message) <= _MESSAGE_MEMO_CHARS:
        _MESSAGES.put(message, sig)
    return sig


def template_to_regex(template: str) -> str:
    """An anchored RE2 regex for a template over a template key; in Python prefer template_matches (linear time).

    A whole-token `<*>` matches any run of whole tokens, none included; a `<*>` inside a token matches any run of
    non-space characters."""
    parts: list[str] = []
    for token in template.split():
        if token == WILDCARD:
            parts.append("(?:(?:^| )[^ ]+)*")
        else:
            parts.append("(?:^| )" + "[^ ]*".join(re.escape(piece) for piece in token.split(WILDCARD)))
    return "^" + "".join(parts) + "$"


def template_matches(template: str, message: str) -> bool:
    """True when the template covers the message's template key, or failing that its whitespace-collapsed text."""
    compiled = _compile_template(template)
    key = template_key(message)
    if _match_tokens(compiled, key.split(" ") if key else []):
        return True
    return _match_tokens(compiled, _clean(message).split())


def template_matches_key(template: str, key: str) -> bool:
    """template_matches for an already computed template key."""
    if len(key) > _LONG_TEXT:
        found = _long_key_matches(template, key)
        if found is not None:
            return found
    return _match_tokens(_compile_template(template), key.split(" ") if key else [])


_Element = tuple[str, ...] | None  # None: a whole-token wildcard; else literal pieces around in-token wildcards


@lru_cache(maxsize=4096)
def _compile_template(template: str) -> tuple[_Element, ...]:
    return tuple(None if t == WILDCARD else tuple(t.split(WILDCARD)) for t in template.split())


def _token_matches(pieces: tuple[str, ...], token: str) -> bool:
    if len(pieces) == 1:
        return pieces[0] == token
    return _glob(pieces, token)


def _match_tokens(elements: tuple[_Element, ...], tokens: list[str]) -> bool:
    # Wildcard matching over tokens with one backtrack point (the last whole-token wildcard): O(len * elements).
    i = j = 0
    star = -1
    mark = 0
    while j < len(tokens):
        element = elements[i] if i < len(elements) else ()
        if element is None:
            star, mark = i, j
            i += 1
        elif element and _token_matches(element, tokens[j]):
            i += 1
            j += 1
        elif star >= 0:
            mark += 1
            i, j = star + 1, mark
        else:
            return False
    while i < len(elements) and elements[i] is None:
        i += 1
    return i == len(elements)


def _glob(pieces: tuple[str, ...], token: str) -> bool:
    # Literal pieces separated by wildcards: the first must be a prefix, the last a suffix, the middle ones found
    # left to right (leftmost placement is always optimal), so matching is linear and cannot backtrack.
    first, last = pieces[0], pieces[-1]
    if len(token) < len(first) + len(last) or not token.startswith(first) or not token.endswith(last):
        return False
    position, end = len(first), len(token) - len(last)
    for piece in pieces[1:-1]:
        found = token.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True
