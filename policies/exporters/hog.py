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


def pattern_index(templates: list[str]) -> dict[str, Any]:
    """Positions (1-based, in the given order) of the templates a message can match, keyed by what it must carry.

    A template whose first two tokens are literal goes under `first2` ("a b"), else one with a literal first token
    under `first`, else one with a literal last token under `last`; the rest are the `fallback`. A message whose
    leading tokens are `a b` and last token `z` can only match templates under first2["a b"], first["a"], last["z"]
    or in the fallback, since a literal token of a template faces exactly one token of the message."""
    first2: dict[str, list[int]] = {}
    first: dict[str, list[int]] = {}
    last: dict[str, list[int]] = {}
    fallback: list[int] = []
    for position, template in enumerate(templates, start=1):
        tokens = template.split()
        if len(tokens) >= 2 and _literal(tokens[0]) and _literal(tokens[1]):
            first2.setdefault(f"{tokens[0]} {tokens[1]}", []).append(position)
        elif tokens and _literal(tokens[0]):
            first.setdefault(tokens[0], []).append(position)
        elif tokens and _literal(tokens[-1]):
            last.setdefault(tokens[-1], []).append(position)
        else:
            fallback.append(position)
    return {"first2": first2, "first": first, "last": last, "fallback": fallback}


def policy_to_hog_policy(document: PolicyDocument) -> dict[str, Any]:
    """One service's entry in the `policies` input; patterns most specific first, as the SDK's PatternIndex."""
    ordered = sorted(document.patterns, key=specificity)
    return {
        "version": document.version,
        "patterns": [
            {
                "id": rule.id,
                "regex": template_to_raw_regex(rule.template, spaces_normalized=True),
                "rate": float(rule.rate),
            }
            for rule in ordered
        ],
        "index": pattern_index([rule.template for rule in ordered]),
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
