"""The PostHog client and source against a local server speaking the documented endpoints."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from lipservice_sdk.signature import MASKING_RULES

from patterns.sources import (
    PostHogClient,
    PostHogConfig,
    PostHogLogSource,
    SourceAuthError,
    SourceConfigError,
    SourceNotSupportedError,
    SourceRecord,
    SourceUnavailableError,
)
from posthog_app.project_writes import (
    drop_rule_create,
    drop_rule_update,
    hog_function_create,
    hog_function_list,
    hog_function_update,
)
from tests.patterns.sources.fake_posthog import API_KEY, PROJECT_ID, FakePostHog, make_rows

pytestmark = [pytest.mark.posthog, pytest.mark.usefixtures("loopback_peers")]

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
SERVER_ERROR: tuple[int, dict[str, str], object] = (503, {}, {"detail": "upstream unavailable"})


def _client(server: FakePostHog, **overrides: object) -> PostHogClient:
    options: dict[str, object] = {"backoff_base": 0.01, "backoff_max": 0.05, "page_size": 1000}
    options.update(overrides)
    config = PostHogConfig(host=server.url, project_id=PROJECT_ID, personal_api_key=API_KEY, **options)  # type: ignore[arg-type]
    return PostHogClient(config)


def test_pagination_over_many_pages_returns_every_row_once(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(5_500, start=START)
    source = PostHogLogSource(_client(fake_posthog))

    records = list(source.fetch_logs(service=None, start=START, end=END))

    assert fake_posthog.count("POST", "logs/query") == 6
    assert [r.uuid for r in records] == [row["uuid"] for row in fake_posthog.rows]
    assert len({r.uuid for r in records}) == 5_500


def test_fetch_maps_rows_to_records(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(10, start=START)
    source = PostHogLogSource(_client(fake_posthog))

    first, second = list(source.fetch_logs(service=None, start=START, end=END))[:2]

    assert first.trace_id is None and first.span_id is None
    assert second.trace_id == f"{1:032x}"
    assert (first.severity, second.severity) == ("INFO", "WARN")
    assert first.timestamp == START
    assert first.attributes == {"http.status": "200", "attempt": "0"}
    assert first.service == "api" and second.service == "worker"
    assert first.bytes == len(first.body.encode())


def test_fetch_sends_service_and_severity_filters(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(40, start=START)
    source = PostHogLogSource(_client(fake_posthog))

    records = list(source.fetch_logs(service="worker", start=START, end=END, severities=["warning"]))

    query = fake_posthog.requests[0][2]["query"]
    assert query["serviceNames"] == ["worker"] and query["severityLevels"] == ["warn"]
    assert query["orderBy"] == "earliest" and query["limit"] == 1000
    assert {(r.service, r.severity) for r in records} == {("worker", "WARN")}


def test_rate_limit_waits_for_retry_after_then_succeeds(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(3, start=START)
    fake_posthog.script("logs/query", (429, {"Retry-After": "2"}, {"detail": "Request was throttled."}))
    source = PostHogLogSource(_client(fake_posthog))

    began = time.monotonic()
    records = list(source.fetch_logs(service=None, start=START, end=END))

    assert time.monotonic() - began >= 2.0
    assert len(records) == 3
    assert fake_posthog.count("POST", "logs/query") == 2


def test_five_server_errors_fail_clearly_with_nothing_returned(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(3, start=START)
    fake_posthog.script("logs/query", *[SERVER_ERROR] * 5)
    source = PostHogLogSource(_client(fake_posthog, max_attempts=5))
    received: list[SourceRecord] = []

    with pytest.raises(SourceUnavailableError, match=r"failed after 5 attempts; last: HTTP 503") as caught:
        received.extend(source.fetch_logs(service=None, start=START, end=END))

    assert received == []
    assert caught.value.rows_delivered == 0
    assert fake_posthog.count("POST", "logs/query") == 5


def test_a_failure_after_some_pages_reports_rows_already_delivered(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(2_500, start=START)
    source = PostHogLogSource(_client(fake_posthog, max_attempts=2))
    records = source.fetch_logs(service=None, start=START, end=END)
    received = [next(records) for _ in range(1000)]
    fake_posthog.script("logs/query", SERVER_ERROR, SERVER_ERROR)

    with pytest.raises(SourceUnavailableError) as caught:
        received.extend(records)

    assert caught.value.rows_delivered == 1000 == len(received)


def test_transient_server_errors_are_retried(fake_posthog: FakePostHog) -> None:
    fake_posthog.rows = make_rows(3, start=START)
    fake_posthog.script("logs/query", SERVER_ERROR, (502, {}, None))

    records = list(PostHogLogSource(_client(fake_posthog)).fetch_logs(service=None, start=START, end=END))

    assert len(records) == 3


@pytest.mark.parametrize(
    ("route", "call", "scope"),
    [
        ("logs/query", lambda s: list(s.fetch_logs(service=None, start=START, end=END)), "logs:read"),
        ("query", lambda s: s.count_template_keys(service=None, start=START, end=END), "query:read"),
        ("logs/sampling_rules", lambda s: drop_rule_create(s.client, rule={"name": "x"}), "logs:write"),
        ("hog_functions", lambda s: hog_function_list(s.client), "hog_function:read"),
    ],
)
def test_forbidden_names_the_missing_scope(fake_posthog: FakePostHog, route: str, call: object, scope: str) -> None:
    detail = {"type": "authentication_error", "code": "permission_denied", "detail": "API key missing required scope"}
    fake_posthog.script(route, (403, {}, detail))
    source = PostHogLogSource(_client(fake_posthog))

    with pytest.raises(SourceAuthError, match=f"needs scope '{scope}'") as caught:
        call(source)  # type: ignore[operator]

    assert caught.value.scope == scope


def test_unauthorized_explains_the_key_kind(fake_posthog: FakePostHog) -> None:
    config = PostHogConfig(host=fake_posthog.url, project_id=PROJECT_ID, personal_api_key="phx_wrong")
    source = PostHogLogSource(PostHogClient(config))

    with pytest.raises(SourceAuthError, match=r"rejected the personal API key \(401\)"):
        list(source.fetch_logs(service=None, start=START, end=END))


def test_feature_flag_refusal_is_not_reported_as_a_scope(fake_posthog: FakePostHog) -> None:
    fake_posthog.script("logs/query", (403, {}, {"detail": "The logs feature flag is not enabled for this team."}))

    with pytest.raises(SourceNotSupportedError, match="feature flag"):
        list(PostHogLogSource(_client(fake_posthog)).fetch_logs(service=None, start=START, end=END))


def test_project_token_is_refused_for_reading() -> None:
    with pytest.raises(SourceConfigError, match="personal API key"):
        PostHogConfig(host="https://us.posthog.com", project_id=1, personal_api_key="phc_abc")


def test_template_keys_are_pushed_down_as_a_hogql_group_by(fake_posthog: FakePostHog) -> None:
    seen: dict[str, object] = {}

    def answer(query: str, values: dict[str, object]) -> dict[str, object]:
        seen.update(query=query, values=values)
        return {
            "results": [
                [
                    "GET /api/items/<NUM>",
                    12,
                    480,
                    ["info", "error"],
                    [10, 2],
                    "2026-11-20T12:00:00Z",
                    "2026-11-20T12:10:00Z",
                    "GET /api/items/1",
                ],
                ["boot", 1, 4, ["17"], [1], "2026-11-20T12:05:00+00:00", "2026-11-20T12:05:00+00:00", "boot"],
            ],
            "columns": ["tkey", "total", "size", "sevs", "sev_counts", "first_seen", "last_seen", "example"],
            "hasMore": False,
        }

    fake_posthog.hogql_handler = answer
    counts = PostHogLogSource(_client(fake_posthog)).count_template_keys(service="api", start=START, end=END)

    query = str(seen["query"])
    values = seen["values"]
    assert isinstance(values, dict)
    assert query.count("replaceRegexpAll(") == len(MASKING_RULES)
    assert "GROUP BY tkey" in query and "LIMIT 50000" in query and "FROM logs" in query
    assert values["service"] == "api" and values["mask_re_0"] == MASKING_RULES[0].pattern
    assert [(c.key, c.count, c.bytes) for c in counts] == [("GET /api/items/<NUM>", 12, 480), ("boot", 1, 4)]
    assert counts[0].severities == {"INFO": 10, "ERROR": 2} and counts[1].severities == {"ERROR": 1}
    assert counts[0].first_seen == START and counts[0].last_seen == START + timedelta(minutes=10)


def test_pushdown_runs_per_window_halves_a_timed_out_window_and_merges(fake_posthog: FakePostHog) -> None:
    windows: list[tuple[str, str]] = []

    def answer(query: str, values: dict[str, object]) -> dict[str, object]:
        windows.append((str(values["start"]), str(values["end"])))
        first = str(values["start"])
        return {"results": [["tick <NUM>", 2, 20, ["info", "warn"], [1, 1], first, first, "tick 1"]]}

    fake_posthog.hogql_handler = answer
    timeout = {"type": "server_error", "detail": "Query exceeded max_execution_time, timeout after 10 s"}
    fake_posthog.script("query", (400, {}, timeout))
    source = PostHogLogSource(_client(fake_posthog, pushdown_window=timedelta(hours=1)))

    (count,) = source.count_template_keys(service=None, start=START, end=START + timedelta(hours=2))

    halves = [START, START + timedelta(minutes=30), START + timedelta(hours=1), START + timedelta(hours=2)]
    assert windows == [(a.isoformat(), b.isoformat()) for a, b in pairwise(halves)]
    assert (count.key, count.count, count.bytes) == ("tick <NUM>", 6, 60)
    assert count.severities == {"INFO": 3, "WARN": 3}
    assert (count.first_seen, count.last_seen) == (START, START + timedelta(hours=1))


def test_volume_comes_from_hogql_buckets(fake_posthog: FakePostHog) -> None:
    bucket_start = int(START.timestamp())
    fake_posthog.hogql_handler = lambda q, v: {"results": [[bucket_start, 30, 900], [bucket_start + 300, 5, 150]]}

    volume = PostHogLogSource(_client(fake_posthog)).log_volume(
        service=None, start=START, end=END, bucket=timedelta(minutes=5)
    )

    assert [(b.start, b.lines, b.bytes) for b in volume] == [(START, 30, 900), (START + timedelta(minutes=5), 5, 150)]


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (["*"], "ok"),
        (["logs:read", "logs:write", "query:read"], "ok"),
        (["logs:read", "query:read"], "denied"),
        (None, "unknown"),
    ],
)
def test_connection_report_judges_drop_rule_writes_without_writing(
    fake_posthog: FakePostHog, scopes: list[str] | None, status: str
) -> None:
    fake_posthog.key_scopes = scopes

    report = _client(fake_posthog).test_connection()

    assert report.logs_read.status == "ok" and report.hogql.status == "ok" and report.can_read
    assert report.drop_rule_write.status == status
    assert not [r for r in fake_posthog.requests if r[0] in ("POST", "PATCH") and r[1] == "logs/sampling_rules"]


def test_connection_report_names_each_missing_piece(fake_posthog: FakePostHog) -> None:
    fake_posthog.script("query", (403, {}, {"detail": "API key missing required scope 'query:read'"}))
    fake_posthog.script("logs/sampling_rules", (404, {}, {"detail": "Not found."}))

    report = _client(fake_posthog).test_connection()

    assert report.logs_read.status == "ok"
    assert report.hogql.status == "denied" and "query:read" in report.hogql.detail
    assert report.drop_rule_write.status == "unavailable"
    assert not report.can_read


def test_drop_rules_and_hog_functions_round_trip(fake_posthog: FakePostHog) -> None:
    client = _client(fake_posthog)
    rule = {"name": "drop health", "enabled": True, "priority": 1, "rule_type": "path_drop", "config": {}}

    created = drop_rule_create(client, rule=rule)
    updated = drop_rule_update(client, rule_id=created["id"], changes={"enabled": False})
    function = hog_function_create(
        client, function={"type": "transformation_log", "name": "lipservice", "hog": "return event"}
    )
    hog_function_update(client, function_id=function["id"], changes={"enabled": True})

    assert client.list_drop_rules() == [{**rule, "id": created["id"], "enabled": False}]
    assert updated["enabled"] is False
    assert hog_function_list(client)[0]["enabled"] is True


def test_creates_are_not_retried_on_server_errors(fake_posthog: FakePostHog) -> None:
    fake_posthog.script("logs/sampling_rules", SERVER_ERROR)

    with pytest.raises(SourceUnavailableError, match="HTTP 503"):
        drop_rule_create(_client(fake_posthog), rule={"name": "x"})

    assert fake_posthog.count("POST", "logs/sampling_rules") == 1
    assert fake_posthog.sampling_rules == []


def test_unreachable_host_fails_after_bounded_attempts() -> None:
    config = PostHogConfig(
        host="http://127.0.0.1:9", project_id=1, personal_api_key=API_KEY, max_attempts=3, backoff_base=0.01, timeout=2
    )

    with pytest.raises(SourceUnavailableError, match="after 3 attempts; last: cannot connect"):
        PostHogClient(config).hogql(query="SELECT 1")
