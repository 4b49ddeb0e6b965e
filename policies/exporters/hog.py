"""Policy → PostHog Hog `transformation_log`: the template's code and inputs, and the body of a hog function.

The Hog code (posthog_app/hog/lipservice_sampling.hog) is static; what changes with a policy is one JSON input,
`policies`, keyed by service name. Each entry carries pattern regexes over the raw log body (Hog has no regex
replace, so it cannot compute the SDK's masked template key or signature; a template becomes a regex whose
placeholders match the raw values the masking rules would have replaced), severity rates, the default rate,
always-keep attribute predicates and the trace-consistency flag.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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


INDEX_DEPTH = 3


def _index_key(tokens: list[str]) -> str | None:
    """Where a template is filed: its longest literal prefix (up to INDEX_DEPTH tokens), else its literal last token."""
    depth = 0
    while depth < min(INDEX_DEPTH, len(tokens)) and _literal(tokens[depth]):
        depth += 1
    if depth:
        return "F" + " ".join(tokens[:depth])
    if tokens and _literal(tokens[-1]):
        return "L" + tokens[-1]
    inner = next((token for token in tokens if _literal(token)), None)
    return None if inner is None else "A" + inner


def pattern_index(templates: list[str], rates: list[float], ids: list[str]) -> dict[str, str]:
    """The templates, in the given (SDK) order, as strings the Hog code searches natively.

    Hog's VM turns every object it reads from `inputs` into its own maps on each record, so a policy held as
    objects costs its whole size per record; strings cost nothing to read. `keys` holds one entry per index key,
    `\\n<key>\\t<refs>`, where a key is `F` and the first one to INDEX_DEPTH literal tokens of a template, or `L`
    and its last literal token; `anywhere` holds templates with neither by their first literal token (`A`), looked
    up for every token of a message; `fallback` the refs of templates with no literal token. A ref is
    `position:rate:id_at:id_len:regex_at:regex_len`, its position zero-padded so that refs sort as the SDK tries
    templates, pointing into `ids` and `regexes`. A message with leading tokens `a b c` and last token `z` can only
    match templates under `Fa`, `Fa b`, `Fa b c`, `Lz`, `A` and one of its tokens, or in the fallback: a literal
    token of a template faces exactly one token of the message.
    """
    buckets: dict[str, list[str]] = {}
    fallback: list[str] = []
    id_text: list[str] = []
    regex_text: list[str] = []
    id_at = regex_at = 1
    width = len(str(len(templates)))
    for position, (template, rate, pattern_id) in enumerate(zip(templates, rates, ids, strict=True), start=1):
        regex = template_to_raw_regex(template, spaces_normalized=True)
        ref = f"{position:0{width}d}:{rate!r}:{id_at}:{len(pattern_id)}:{regex_at}:{len(regex)}"
        id_text.append(pattern_id)
        regex_text.append(regex)
        id_at += len(pattern_id)
        regex_at += len(regex)
        key = _index_key(template.split())
        if key is None:
            fallback.append(ref)
        else:
            buckets.setdefault(key, []).append(ref)
    keys = "".join(f"\n{key}\t{','.join(refs)}" for key, refs in buckets.items() if key[0] != "A") + "\n"
    anywhere = "".join(f"\n{key}\t{','.join(refs)}" for key, refs in buckets.items() if key[0] == "A") + "\n"
    every = sorted(ref for refs in [*buckets.values(), fallback] for ref in refs)
    return {
        "keys": keys,
        "anywhere": anywhere,
        "fallback": ",".join(fallback),
        "every": ",".join(every),
        "ids": "".join(id_text),
        "regexes": "".join(regex_text),
    }


def policy_to_hog_policy(document: PolicyDocument) -> dict[str, Any]:
    """One service's entry in the `policies` input; patterns most specific first, as the SDK's PatternIndex."""
    ordered = sorted(document.patterns, key=specificity)
    return {
        "version": document.version,
        "index": pattern_index(
            [rule.template for rule in ordered], [float(rule.rate) for rule in ordered], [rule.id for rule in ordered]
        ),
        "rare_spaces": _RARE_SPACES,
        "severity_rates": {name: float(rate) for name, rate in document.severity_rates.items()},
        "default_rate": float(document.default_rate),
        "trace_consistent": document.trace_consistent,
        "keep_attributes": [{"attribute": p.attribute, "op": p.op, "value": p.value} for p in document.keep.attributes],
    }


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
        "__INDEX_DEPTH__": str(INDEX_DEPTH),
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
        "description": "Written by LipService (`manage.py posthog_app install`): per service, pattern regexes and "
        "rates, severity rates, default rate, always-keep attribute rules. Services not listed pass through.",
        "default": {},
        "required": True,
        "secret": False,
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
