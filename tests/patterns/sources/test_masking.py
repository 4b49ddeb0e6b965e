"""The SQL template key is generated from MASKING_RULES and equals template_key on 18.16 and on a current engine."""

from __future__ import annotations

import json
import random

import pytest
from clickhouse_driver import Client
from clickhouse_driver.util.escape import escape_params
from lipservice_sdk.signature import MASKING_RULES, MaskingRule, template_key

from patterns.sources.masking import clickhouse_key_expression, hogql_key_expression, rule_issues

TRICKY = [
    "12 34 x56 7",
    "user bob@example.com logged in from 10.0.0.1:8080 at 2024-01-02T03:04:05.123Z",
    "  GET /api/v1/users/550e8400-e29b-41d4-a716-446655440000   took 12.5ms  ",
    'name="hello world" id=abc123 token=xyz',
    "mac 00:1A:2b:3c:4D:5e ipv6 [fe80::1]:443 and 2001:db8::ff00:42:8329",
    "0xDEADbeef deadbeef12 1a2b3c",
    "Mon Jan  2 15:04:05 2006 started",
    "10/Oct/2000:13:55:36 -0700 GET",
    "date 1/2/2024 t 12:30:45,123+01:00",
    "héllo wörld 42 ünïcode é1 Ünknown",
    "tab\there\x0bvt\x0cff\r\nnl",
    "'quoted' and 'it s' x='a'",
    "-5 +3 1,000,000 3.14% 10MB",
    "session_id=99 traceId=ab12 SPAN=1",
    "a-1-2",
    "",
    " ",
    "x" * 5000 + " 12",
    "é" * 4095 + "12",
    "v1.2.3 build-42",
    "::1 loopback",
    "1.2.3.4.5",
]


def _corpus() -> list[str]:
    rng = random.Random(20261123)
    alphabet = "ab01 9:.-/x@'\"=ZT\tfF,é[]"
    return TRICKY + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 48))) for _ in range(3000)]


def _array_query(expression: str) -> str:
    return "SELECT " + expression.replace("substringUTF8(body,", "substringUTF8(arrayJoin(%(corpus)s),", 1)


def test_shared_rules_have_no_re2_or_clickhouse_issue() -> None:
    assert rule_issues() == []


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (MaskingRule("lookbehind", r"(?<=id=)\d+", "<N>"), "RE2 cannot compile"),
        (MaskingRule("unicode_digit", r"\d+", "<N>"), "differs between re and RE2"),
        (MaskingRule("empty", "[0-9]*", "<N>"), "empty string"),
        (MaskingRule("named_group", "(?P<v>[0-9]+)", r"\g<v>"), "re.sub syntax"),
    ],
)
def test_rule_issues_name_what_clickhouse_cannot_run(rule: MaskingRule, problem: str) -> None:
    issues = rule_issues([rule])

    assert [i.rule for i in issues] == [rule.name]
    assert problem in issues[0].problem


def test_expressions_carry_every_rule_as_a_parameter() -> None:
    clickhouse, params = clickhouse_key_expression(column="body")
    hogql, values = hogql_key_expression(column="body")

    assert clickhouse.count("replaceRegexpAll(") == hogql.count("replaceRegexpAll(") == len(MASKING_RULES)
    assert [params[f"mask_re_{i}"] for i in range(len(MASKING_RULES))] == [r.pattern for r in MASKING_RULES]
    assert params == values
    assert "%(mask_re_0)s" in clickhouse and "{mask_re_0}" in hogql


@pytest.mark.clickhouse
def test_clickhouse_18_key_equals_template_key(clickhouse_admin: Client) -> None:
    expression, params = clickhouse_key_expression(column="body")
    corpus = _corpus()

    rows = clickhouse_admin.execute(_array_query(expression), {**params, "corpus": corpus})

    assert [key for (key,) in rows] == [template_key(s) for s in corpus]


def test_current_engine_key_equals_template_key() -> None:
    chdb = pytest.importorskip("chdb")

    class Context:
        class server_info:
            @staticmethod
            def get_timezone() -> str:
                return "UTC"

    expression, params = clickhouse_key_expression(column="body")
    corpus = _corpus()

    rendered = _array_query(expression) % escape_params({**params, "corpus": corpus}, Context)
    rows = json.loads(chdb.query(rendered, "JSONCompact").bytes())["data"]

    assert [key for (key,) in rows] == [template_key(s) for s in corpus]
