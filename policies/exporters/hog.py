"""Policy → PostHog Hog `transformation_log`: the template's code and inputs, and the body of a hog function.

The Hog code (posthog_app/hog/lipservice_sampling.hog) is static; what changes with a policy is one JSON input,
`policies`, keyed by service name. Each entry is one string (policy_to_hog_policy): pattern regexes over the raw log
body (Hog has no regex replace, so it cannot compute the SDK's masked template key or signature; a template becomes a
regex whose placeholders match the raw values the masking rules would have replaced) in an index by literal tokens,
then as JSON the severity rates, the default rate, always-keep attribute predicates and the trace-consistency flag.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lipservice_sdk.decision import specificity
from lipservice_sdk.policy import PolicyDocument
from lipservice_sdk.severity import FATAL_NUMBER, SPELLINGS, TEXT_LIMIT
from lipservice_sdk.signature import _UNITS, WILDCARD

HOG_FUNCTION_NAME = "LipService sampling"
TEMPLATE_ID = "template-lipservice-sampling"
HOG_SOURCE_PATH = Path(__file__).resolve().parents[2] / "posthog_app" / "hog" / "lipservice_sampling.hog"

# Python's str.split() whitespace, spelled as literal characters so RE2, JavaScript and re read the class alike.
_WHITESPACE = (
    " \t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# What Hog turns into one space before matching: the ASCII kinds by replaceAll, the rest only when present.
_ASCII_SPACES = " \t\n\v\f\r"
_RARE_SPACES = "".join(ch for ch in _WHITESPACE if ch not in _ASCII_SPACES)
_SPACE = f"[{_WHITESPACE}]"
_NON_SPACE = f"[^{_WHITESPACE}]"
_HEX = "[0-9a-fA-F]"
# The raw text each masking placeholder stands for (see lipservice_sdk.signature.MASKING_RULES).
_PLACEHOLDERS: dict[str, str] = {
    "<UUID>": f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}",
    "<TS>": "[0-9A-Za-z][-0-9A-Za-z:/.,+ ]*?",
    "<MAC>": f"{_HEX}{{2}}([:-]{_HEX}{{2}}){{5}}",
    "<IP>": "\\[?[0-9A-Fa-f:.]+\\]?(:[0-9]{1,5})?",
    "<EMAIL>": "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+",
    "<HEX>": f"(0[xX]{_HEX}+|{_HEX}+)",
    # number_unit folds a spaced unit into the number ("5 ms", "1.05 KB"); number takes glued suffixes ("35ms").
    "<NUM>": "[-+]?[0-9]+([.,][0-9]+)*([A-Za-z0-9%]*|[ ](" + "|".join(_UNITS) + "))",
    "<ID>": "[^ \\t\\r\\n,;&\"'<>]+",
}
_DOUBLE_QUOTED = '"([^"\\\\ ]|\\\\[^ ])*"'
_SINGLE_QUOTED = "'[^' ]*'"
_TOKEN_PARTS = re.compile(r'"<STR>"|\'<STR>\'|<\*>|<(?:UUID|TS|MAC|IP|EMAIL|HEX|NUM|ID)>')


def template_to_raw_regex(template: str, *, spaces_normalized: bool = False) -> str:
    """An anchored RE2/JS/re regex over a raw message that the template covers, whitespace runs collapsed.

    As in the SDK's template_matches, a whole-token `<*>` covers any run of whole tokens, none included, and a
    `<*>` inside a token any run of non-space characters. Adjacent whole-token wildcards are one run, so the regex
    never nests two ambiguous repetitions side by side. `spaces_normalized` writes it for a message whose every
    whitespace character was made a space (as the Hog code does): one-character classes RE2 compiles fast."""
    space = "[ ]" if spaces_normalized else _SPACE
    non_space = "[^ ]" if spaces_normalized else _NON_SPACE
    parts: list[str] = []
    previous_wildcard = False
    for token in template.split():
        if token == WILDCARD:
            if not previous_wildcard:
                parts.append(f"(?:(?:^|{space}+){non_space}+)*")
            previous_wildcard = True
            continue
        previous_wildcard = False
        pieces: list[str] = []
        position = 0
        for found in _TOKEN_PARTS.finditer(token):
            pieces.append(re.escape(token[position : found.start()]))
            text = found.group(0)
            if text == WILDCARD:
                pieces.append(non_space + "*")
            elif text == '"<STR>"':
                pieces.append(_DOUBLE_QUOTED)
            elif text == "'<STR>'":
                pieces.append(_SINGLE_QUOTED)
            else:
                pieces.append(_PLACEHOLDERS[text])
            position = found.end()
        pieces.append(re.escape(token[position:]))
        parts.append(f"(?:^|{space}+)" + "".join(pieces))
    return "^" + "".join(parts) + f"{space}*$"


def _literal(token: str) -> bool:
    return token != WILDCARD and _TOKEN_PARTS.search(token) is None


# A key with more templates than this files those with a longer literal prefix one token deeper.
KEY_TEMPLATES = 4
# The table has 16**digits buckets: the fewest that keep the keys of a bucket to _KEYS_PER_BUCKET on average.
_KEYS_PER_BUCKET = 2
_MAX_DIGITS = 4
_TAIL_WIDTH = 8
# Marks a key under which longer prefixes are filed: the Hog code then looks up one more token of the message.
DEEPER = "+"
# Marks a crowded key: its refs are listed by token elsewhere (at,length), those with no token to list by follow.
CROWD = "*"
# Up to this many inner-token keys, a message checks each; above, each token of a message is looked up.
ANYWHERE_KEYS = 32
# How many needles (text a matching message must hold) a template carries for the Hog code to check before its regex.
CHECK_NEEDLES = 3


def _literal_prefix(template: str) -> list[str]:
    tokens = template.split()
    depth = 0
    while depth < len(tokens) and _literal(tokens[depth]):
        depth += 1
    return tokens[:depth]


def index_keys(templates: list[str]) -> tuple[list[str | None], set[str]]:
    """Where each template is filed, and the keys under which longer prefixes are filed too.

    A template with a literal first token goes under `F` and its literal prefix, cut at the shortest depth whose
    key holds at most KEY_TEMPLATES templates (or the whole prefix); else under `L` and its literal last token; else
    `A` and its first literal token; None for a template with no literal token (tried for every record). The regex
    of a template holds each literal token as a whole token of the message, so a message can only match templates
    filed under `F` and its first tokens (one more each time the key says DEEPER), `L` and its last token, `A` and
    one of its tokens: the lookups the Hog code makes."""
    keys: list[str | None] = [None] * len(templates)
    deeper: set[str] = set()
    prefixes = [_literal_prefix(template) for template in templates]

    def place(depth: int, members: list[int]) -> None:
        groups: dict[tuple[str, ...], list[int]] = {}
        for member in members:
            groups.setdefault(tuple(prefixes[member][:depth]), []).append(member)
        for prefix, group in groups.items():
            key = "F" + " ".join(prefix)
            longer = [member for member in group if len(prefixes[member]) > depth]
            if len(group) <= KEY_TEMPLATES or not longer:
                longer = []
            else:
                deeper.add(key)
                place(depth + 1, longer)
            moved = set(longer)
            for member in group:
                if member not in moved:
                    keys[member] = key

    place(1, [n for n, prefix in enumerate(prefixes) if prefix])
    for n, template in enumerate(templates):
        if prefixes[n]:
            continue
        tokens = template.split()
        if tokens and _literal(tokens[-1]):
            keys[n] = "L" + tokens[-1]
        else:
            keys[n] = next(("A" + token for token in tokens if _literal(token)), None)
    return keys, deeper


def _key_tokens(key: str) -> set[str]:
    return set(key[1:].split(" ")) if key[0] == "F" else {key[1:]}


def _needles(template: str) -> set[str]:
    """Text a message must hold wherever the template's regex matches it (the message padded with a space at each
    end): each literal token between spaces; each literal piece of a token with placeholders, after a space when it
    starts the token, before one when it ends it."""
    found = set()
    for token in template.split():
        if token == WILDCARD:
            continue
        pieces = _TOKEN_PARTS.split(token)
        for number, piece in enumerate(pieces):
            if piece:
                found.add((" " if number == 0 else "") + piece + (" " if number == len(pieces) - 1 else ""))
    return found


def _check(template: str, key: str | None, frequency: Counter[str]) -> str:
    """Up to CHECK_NEEDLES of the template's needles (see _needles) outside its key, those the fewest templates of
    the policy carry first, one a line: a message without one of them cannot match, so the Hog code skips the regex
    (which RE2 compiles on every `match`, tens of microseconds). Templates under one key differ in such a needle."""
    used = {f" {token} " for token in _key_tokens(key)} if key is not None else set()
    needles = sorted(_needles(template) - used, key=lambda needle: (frequency[needle], -len(needle), needle))
    return "\n".join(needles[:CHECK_NEEDLES])


def _crowd_token(check: str) -> str:
    """The token a crowded key lists a template by: its first needle when that is a whole token, else none."""
    first = check.split("\n")[0]
    return first[1:-1] if len(first) > 2 and first[0] == first[-1] == " " else ""


def _units(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units): the offsets are read by Hog's `substring`."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def hog_bucket(key: str, digits: int) -> int:
    """The bucket the Hog code reads for `key`: the first `digits` hex digits of its md5 (`md5Hex`)."""
    return int(hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:digits], 16) if digits else 0


def _hashable(key: str) -> bool:
    """Hog hashes a key as JavaScript encodes it; a lone surrogate encodes differently there, so such a template
    goes to the fallback (tried for every record) rather than to a bucket Hog would not look in."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def pattern_index(templates: list[str], rates: list[float], ids: list[str]) -> tuple[str, dict[str, Any]]:
    """The templates, in the given (SDK) order, as one string the Hog code reads by offset, and where its parts are.

    The string holds, for each template, its id, its regex and its check (see _check) side by side;
    then the refs of the fallback (templates with no literal token); then the buckets of a hash table of index keys
    (see index_keys), each `\\n<key>\\t<refs>` per key of the bucket, `<refs>` led by DEEPER when longer prefixes
    are filed too; then the table, the offset of each bucket's start (and of the end of the last), fixed width. A
    key's bucket is the first `digits` hex digits of its md5, so a lookup reads one short bucket whatever the size
    of the policy. A ref is
    `position:rate:at:id_length:regex_length:check_length`, its position zero-padded so that refs sort as the SDK
    tries templates; `at` is where the template's id starts (offsets count from 1, in UTF-16 code units)."""
    keys, deeper = index_keys(templates)
    frequency: Counter[str] = Counter()
    for template in templates:
        frequency.update(_needles(template))
    parts: list[str] = []
    at = 1
    width = len(str(len(templates)))
    fallback: list[str] = []
    filed: dict[str, list[tuple[str, str]]] = {key: [] for key in sorted(deeper) if _hashable(key)}
    for position, (template, key, rate, pattern_id) in enumerate(zip(templates, keys, rates, ids, strict=True), 1):
        regex = template_to_raw_regex(template, spaces_normalized=True)
        check = _check(template, key, frequency)
        ref = f"{position:0{width}d}:{rate!r}:{at}:{_units(pattern_id)}:{_units(regex)}:{_units(check)}"
        parts += [pattern_id, regex, check]
        at += _units(pattern_id) + _units(regex) + _units(check)
        if key is None or not _hashable(key):
            fallback.append(ref)
        else:
            filed.setdefault(key, []).append((ref, check))
    fallback_text = ",".join(fallback)
    parts.append(fallback_text)
    layout: dict[str, Any] = {"fallback": [at, _units(fallback_text)]}
    at += _units(fallback_text)
    # Inner-token keys: a message checks the few listed here for their token rather than look each of its tokens up.
    anywhere = [key for key in filed if key[0] == "A"]
    directory = "".join(f"\n{key}" for key in anywhere) + "\n" if anywhere else ""
    layout.update(anywhere=[at, _units(directory)], anywhere_all=len(anywhere) > ANYWHERE_KEYS)
    parts.append(directory)
    at += _units(directory)
    # A crowded key (templates alike up to the end of their literal prefix, variants of one line) lists its refs by
    # the token of their first needle, which the message's tokens look up: a record reads as much as it has tokens.
    values: dict[str, str] = {}
    for key, filed_refs in filed.items():
        value = DEEPER if key in deeper else ""
        if len(filed_refs) <= KEY_TEMPLATES:
            values[key] = value + ",".join(ref for ref, _ in filed_refs)
            continue
        by_token: dict[str, list[str]] = {}
        for ref, check in filed_refs:
            by_token.setdefault(_crowd_token(check), []).append(ref)
        unchecked = by_token.pop("", [])
        crowd = "".join(f"\n{token}\t{','.join(refs)}" for token, refs in by_token.items()) + "\n"
        values[key] = value + CROWD + ",".join([str(at), str(_units(crowd)), *unchecked])
        parts.append(crowd)
        at += _units(crowd)
    digits = 0
    while digits < _MAX_DIGITS and len(filed) > _KEYS_PER_BUCKET * 16**digits:
        digits += 1
    buckets: list[list[str]] = [[] for _ in range(16**digits)]
    for key, value in values.items():
        buckets[hog_bucket(key, digits)].append(f"\n{key}\t{value}")
    starts = []
    for bucket in buckets:
        text = "".join(bucket) + "\n" if bucket else ""
        starts.append(at)
        parts.append(text)
        at += _units(text)
    starts.append(at)
    table_width = len(str(at))
    parts.append("".join(f"{start:0{table_width}d}" for start in starts))
    layout.update(digits=digits, table=at, width=table_width)
    return "".join(parts), layout


def policy_to_hog_policy(document: PolicyDocument) -> str:
    """One service's entry in the `policies` input, patterns most specific first (as the SDK's PatternIndex): one
    string, since Hog's VM converts `inputs.policies` on every record (every service's entry: a string costs nothing
    to convert, an object its size). It ends with the service's settings as JSON, read with `jsonParse`, and the
    JSON's length in _TAIL_WIDTH digits; before them the pattern index (pattern_index), read by offset."""
    ordered = sorted(document.patterns, key=specificity)
    index, layout = pattern_index(
        [rule.template for rule in ordered], [float(rule.rate) for rule in ordered], [rule.id for rule in ordered]
    )
    head = json.dumps(
        {
            "version": document.version,
            "severity_rates": {name: float(rate) for name, rate in document.severity_rates.items()},
            "default_rate": float(document.default_rate),
            "trace_consistent": document.trace_consistent,
            "keep_attributes": [
                {"attribute": p.attribute, "op": p.op, "value": p.value} for p in document.keep.attributes
            ],
            "rare_spaces": _RARE_SPACES,
            "index": layout,
        },
        sort_keys=True,
    )
    return f"{index}{head}{_units(head):0{_TAIL_WIDTH}d}"


def hog_policy_settings(entry: str) -> dict[str, Any]:
    """The settings an entry of the `policies` input ends with (what the Hog code reads with `jsonParse`)."""
    length = int(entry[-_TAIL_WIDTH:])
    settings: dict[str, Any] = json.loads(entry[:-_TAIL_WIDTH][-length:])
    return settings


@dataclass(frozen=True, order=True)
class HogRef:
    """One template as an entry's index refers to it (ordered as the SDK tries templates)."""

    position: int
    rate: float
    pattern_id: str
    regex: str
    check: str


def hog_policy_index(entry: str) -> tuple[list[dict[str, list[HogRef]]], list[HogRef]]:
    """An entry's pattern index read back by the offsets the Hog code reads: each bucket of the hash table (its keys
    and their refs, in bucket order), and the fallback refs."""
    units = entry.encode("utf-16-le", "surrogatepass")

    def piece(at: int, length: int) -> str:
        return units[2 * (at - 1) : 2 * (at - 1 + length)].decode("utf-16-le", "surrogatepass")

    def refs(text: str) -> list[HogRef]:
        found = []
        for ref in text.split(",") if text else []:
            position, rate, at, id_length, regex_length, check_length = ref.split(":")
            start, ids, regexes = int(at), int(id_length), int(regex_length)
            found.append(
                HogRef(
                    position=int(position),
                    rate=float(rate),
                    pattern_id=piece(start, ids),
                    regex=piece(start + ids, regexes),
                    check=piece(start + ids + regexes, int(check_length)),
                )
            )
        return found

    layout = hog_policy_settings(entry)["index"]
    width = layout["width"]
    table = piece(layout["table"], (16 ** layout["digits"] + 1) * width)
    starts = [int(table[i : i + width]) for i in range(0, len(table), width)]

    def value_refs(value: str) -> list[HogRef]:
        value = value.removeprefix(DEEPER)
        if not value.startswith(CROWD):
            return refs(value)
        crowd_at, crowd_length, *unchecked = value[len(CROWD) :].split(",")
        lines = [line.split("\t") for line in piece(int(crowd_at), int(crowd_length)).split("\n") if line]
        return sorted([*refs(",".join(unchecked)), *(ref for _, text in lines for ref in refs(text))])

    buckets: list[dict[str, list[HogRef]]] = []
    for start, end in itertools.pairwise(starts):
        lines = [line.split("\t") for line in piece(start, end - start).split("\n") if line]
        buckets.append({key: value_refs(value) for key, value in lines})
    return buckets, refs(piece(*layout["fallback"]))


def _hog_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _hog_dict(items: Mapping[str, str | bool]) -> str:
    values = ", ".join(
        f"{_hog_string(k)}: {_hog_string(v) if isinstance(v, str) else str(v).lower()}"
        for k, v in sorted(items.items())
    )
    return "{" + values + "}"


def hog_source() -> str:
    """The Hog code with lipservice_sdk.severity's tables and the whitespace sets written in."""
    word_chars = {ch: True for ch in "abcdefghijklmnopqrstuvwxyz0123456789"}
    rare_class = "".join(f"\\\\x{{{ord(ch):x}}}" for ch in _RARE_SPACES)
    replacements = {
        "__SEVERITY_SPELLINGS__": _hog_dict(SPELLINGS),
        "__WORD_CHARS__": _hog_dict(word_chars),
        "__TEXT_LIMIT__": str(TEXT_LIMIT),
        "__FATAL_NUMBER__": str(FATAL_NUMBER),
        "__DEEPER__": _hog_string(DEEPER),
        "__CROWD__": _hog_string(CROWD),
        "__TAIL_WIDTH__": str(_TAIL_WIDTH),
        "__RARE_SPACE_REGEX__": f"'[{rare_class}]'",
    }
    source = HOG_SOURCE_PATH.read_text()
    for placeholder, value in replacements.items():
        source = source.replace(placeholder, value)
    return source


INPUTS_SCHEMA: list[dict[str, Any]] = [
    {
        "key": "policies",
        "type": "json",
        "label": "Policies by service",
        "description": "Written by LipService (`manage.py posthog_app install`): per service, one string holding "
        "pattern regexes and rates, severity rates, default rate, always-keep attribute rules. Services not listed "
        "pass through.",
        "default": {},
        "required": True,
        "secret": False,
        # PostHog compiles every string of a templated input as a Hog template (`{...}` is an expression); the
        # regexes hold `{8}` and `{1,5}` and the settings are JSON, so the value must reach the function as written.
        "templating": False,
    }
]


def hog_template() -> dict[str, Any]:
    """The template in the shape of PostHog's gallery (`posthog/cdp/templates`)."""
    return {
        "id": TEMPLATE_ID,
        "name": HOG_FUNCTION_NAME,
        "description": "Per-pattern log sampling from LipService: keeps every error, samples each log pattern at "
        "its own rate, consistently per trace, and tags kept records with lipservice.sample_rate.",
        "type": "transformation_log",
        "status": "beta",
        "free": True,
        "category": ["Custom"],
        "code_language": "hog",
        "code": hog_source(),
        "inputs_schema": INPUTS_SCHEMA,
    }


def hog_function_body(policies: Mapping[str, PolicyDocument], *, name: str = HOG_FUNCTION_NAME) -> dict[str, Any]:
    """The body for `POST/PATCH /api/projects/{id}/hog_functions/`."""
    template = hog_template()
    return {
        "name": name,
        "description": template["description"],
        "type": "transformation_log",
        "enabled": True,
        "hog": template["code"],
        "inputs_schema": template["inputs_schema"],
        "inputs": {"policies": {"value": {svc: policy_to_hog_policy(doc) for svc, doc in sorted(policies.items())}}},
    }


def hog_template_json() -> str:
    return json.dumps(hog_template(), indent=2, sort_keys=True) + "\n"
