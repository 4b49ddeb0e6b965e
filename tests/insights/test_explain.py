"""Incident explanations: rules by default, an LLM through the policy engine's providers, fallback to rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings

from insights.engine.explain import logs_url
from insights.models import Incident
from insights.services.anomalies import DetectedAnomaly, anomalies_record
from insights.services.explanations import incident_explain
from patterns.models import Pattern, Service
from tests.insights.conftest import make_pattern
from tests.policies.engine.llm_servers import Recorded, Reply, anthropic_reply, fake_server, openai_reply

T0 = datetime(2026, 11, 21, 23, tzinfo=UTC)
GOOD = json.dumps(
    {
        "summary": "Payments upstream timed out; checkout retried and failed.",
        "likely_causes": ["payments-service overloaded"],
        "debugging_steps": ["check payments-service latency"],
    }
)


def _incident(service: Service) -> Incident:
    patterns: list[Pattern] = [
        make_pattern(
            service,
            "p_t",
            "upstream payments-service timed out after <NUM>ms for alice@example.com",
            severity_counts={"WARN": 5},
        ),
        make_pattern(
            service,
            "p_l",
            'could not obtain lock on row in relation "carts" from 10.1.2.3',
            severity_counts={"ERROR": 5},
            count=5,
        ),
        make_pattern(service, "p_h", "GET /healthz 200 <NUM>ms", severity_counts={"INFO": 5}),
    ]
    anomalies = [
        DetectedAnomaly(p, kind, T0, T0 + timedelta(hours=1), observed, expected, 9.0, 0.9)
        for p, kind, observed, expected in [
            (patterns[0], "spike", 800.0, 100.0),
            (patterns[1], "spike", 300.0, 10.0),
            (patterns[2], "drop", 5.0, 120.0),
        ]
    ]
    return anomalies_record(service=service, anomalies=anomalies)[0]


@pytest.mark.django_db
def test_rules_explain_what_changed_when_and_why(service: Service) -> None:
    service.team.posthog_project_id = "4242"
    service.team.save()
    incident = _incident(service)
    explanation = incident.explanation
    assert explanation["generated_by"] == "rules"
    assert explanation["when"] == "2026-11-21 23:00 to 00:00 UTC (60 min)"
    assert len(explanation["moved_together"]) == 3
    assert explanation["what_changed"][0].startswith("upstream payments-service timed out")
    assert "x8.0" in explanation["what_changed"][0]
    causes = " ".join(explanation["likely_causes"])
    for expected in ("timeouts", "Database contention", "fell below its baseline"):
        assert expected in causes
    assert any("PostHog logs" in step for step in explanation["debugging_steps"])
    assert explanation["logs_url"].startswith("https://us.posthog.com/project/4242/logs?")
    assert incident.title == explanation["summary"]


def test_logs_url_carries_the_window_with_a_margin_and_the_service() -> None:
    url = logs_url(
        host="https://eu.posthog.com/", project_id="7", service="checkout api", start=T0, end=T0 + timedelta(hours=1)
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("eu.posthog.com", "/project/7/logs")
    query = parse_qs(parts.query)
    assert json.loads(query["dateRange"][0]) == {
        "date_from": "2026-11-21T22:45:00+00:00",
        "date_to": "2026-11-22T00:15:00+00:00",
    }
    assert json.loads(query["serviceNames"][0]) == ["checkout api"]


def _with_llm(
    vendor: str, script: Callable[[Recorded], Reply], service: Service
) -> tuple[dict[str, object], list[Recorded]]:
    incident = _incident(service)
    with fake_server(script) as server:
        names = {
            "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"),
            "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
        }
        key, url, suffix = names[vendor]
        with override_settings(
            LIPSERVICE_LLM_PROVIDER=vendor, LIPSERVICE_LLM_MAX_RETRIES=0, **{key: "k", url: server.url + suffix}
        ):
            explanation = incident_explain(incident=incident).as_dict()
        return explanation, list(server.requests)


@pytest.mark.django_db
@pytest.mark.parametrize(("vendor", "reply"), [("openai", openai_reply), ("anthropic", anthropic_reply)])
def test_llm_explanation_is_used_and_sees_no_personal_data(
    service: Service, vendor: str, reply: Callable[[str], Reply]
) -> None:
    explanation, requests = _with_llm(vendor, lambda _: reply(GOOD), service)
    assert len(requests) == 1
    assert explanation["summary"] == "Payments upstream timed out; checkout retried and failed."
    assert explanation["likely_causes"] == ["payments-service overloaded"]
    assert str(explanation["generated_by"]).startswith(f"llm:{vendor}:")
    assert explanation["logs_url"] and explanation["what_changed"]  # facts stay the rules' own
    body = requests[0].body
    assert "alice@example.com" not in body and "10.1.2.3" not in body
    assert "<EMAIL>" in body and "<IP>" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (openai_reply("not json"), "invalid_answer"),
        (openai_reply(json.dumps({"summary": "x"})), "invalid_answer"),
        (Reply(status=500, body={"error": {"message": "boom"}}), "http_error"),
    ],
)
def test_llm_failures_fall_back_to_rules_with_the_reason(service: Service, reply: Reply, reason: str) -> None:
    explanation, _ = _with_llm("openai", lambda _: reply, service)
    assert explanation["generated_by"] == "rules"
    assert str(explanation["fallback_reason"]).startswith(reason)
    assert "timeouts" in " ".join(explanation["likely_causes"])  # type: ignore[arg-type]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("loopback_peers")
def test_the_llm_is_asked_only_when_an_alert_goes_out_and_its_words_reach_slack(service: Service) -> None:
    from insights.services.alerts import alert_channel_create
    from tests.insights.conftest import Receiver

    slack = Receiver()
    try:
        with (
            fake_server(lambda _: openai_reply(GOOD)) as server,
            override_settings(LIPSERVICE_LLM_PROVIDER="openai", OPENAI_API_KEY="k", OPENAI_BASE_URL=server.url + "/v1"),
        ):
            incident = _incident(service)  # no channel yet: nothing to send, so no LLM call
            assert server.requests == []
            alert_channel_create(team=service.team, name="slack", kind="slack", url=slack.base)
            later = [
                DetectedAnomaly(a.pattern, a.kind, a.window_start + timedelta(minutes=30), a.window_end, 1.0, 1.0, 9, 1)
                for a in incident.anomalies.all()
            ]
            anomalies_record(service=service, anomalies=later)
            assert len(server.requests) == 1
    finally:
        slack.close()
    assert slack.bodies[0]["text"] == "Payments upstream timed out; checkout retried and failed."
    incident.refresh_from_db()
    assert incident.explanation["generated_by"].startswith("llm:openai:")
