"""LLM providers driven through the real clients against local servers: accepted answers and every fallback path."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from policies.engine.llm.config import LLMConfig
from policies.engine.llm.generate import generate_policy
from policies.engine.rules import ReductionTarget
from policies.engine.stats import PatternStats
from tests.policies.engine.llm_servers import (
    Recorded,
    Reply,
    anthropic_reply,
    fake_server,
    ollama_reply,
    openai_reply,
    rate_limited,
)

WHEN = datetime(2026, 11, 23, tzinfo=UTC)
EMAIL = "dana.scully@fbi.example.com"
ADDRESS = "203.0.113.77"
TOKEN = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtdWxkZXIifQ.c2lnbmF0dXJl"
SECRETS = (EMAIL, ADDRESS, TOKEN, JWT)

STATS = [
    PatternStats(
        id="health",
        template="GET /healthz <*> ms",
        count=5000,
        bytes=400_000,
        severity_counts={"INFO": 5000},
        examples=("GET /healthz 3 ms",),
    ),
    PatternStats(
        id="login",
        template="login ok for <*> from <*> token=<*>",
        count=800,
        bytes=120_000,
        severity_counts={"INFO": 800},
        examples=(f"login ok for {EMAIL} from {ADDRESS} token={TOKEN}",),
    ),
    PatternStats(
        id="auth",
        template="auth header Bearer <*>",
        count=300,
        bytes=40_000,
        severity_counts={"DEBUG": 300},
        examples=(f"auth header Bearer {JWT}",),
    ),
    PatternStats(
        id="reload",
        template="config reloaded by <*>",
        count=3,
        bytes=300,
        severity_counts={"INFO": 3},
        examples=("config reloaded by deploy",),
    ),
    PatternStats(
        id="fail",
        template="payment <*> failed",
        count=50,
        bytes=6_000,
        severity_counts={"ERROR": 50},
        examples=("payment 42 failed",),
    ),
]

GOOD: dict[str, Any] = {
    "reasoning": "Health checks are pure chatter.",
    "default_rate": 1.0,
    "severity_rates": {"TRACE": 0.01, "DEBUG": 0.05, "INFO": 0.2, "WARN": 1.0, "ERROR": 1.0, "FATAL": 1.0},
    "patterns": [{"id": "health", "rate": 0.01, "reason": "health checks"}],
}
SAMPLES_ERRORS = {**GOOD, "severity_rates": {**GOOD["severity_rates"], "ERROR": 0.5}}


@dataclass(frozen=True)
class Vendor:
    name: str
    model: str
    reply: Callable[[str], Reply]
    path: str
    url_suffix: str


VENDORS = [
    Vendor("openai", "gpt-4o-mini", openai_reply, "/v1/chat/completions", "/v1"),
    Vendor("anthropic", "claude-haiku-4-5", anthropic_reply, "/v1/messages", ""),
    Vendor("ollama", "llama3.1", ollama_reply, "/api/chat", ""),
]
IDS = [v.name for v in VENDORS]


def _run(vendor: Vendor, script: Callable[[Recorded], Reply], **config: Any) -> tuple[Any, list[Recorded]]:
    with fake_server(script) as server:
        settings = LLMConfig(
            provider=vendor.name,
            model=vendor.model,
            api_key="test-key",
            base_url=server.url + vendor.url_suffix,
            timeout_seconds=config.pop("timeout_seconds", 5.0),
            max_retries=config.pop("max_retries", 2),
            **config,
        )
        result = generate_policy(
            service="checkout", stats=STATS, target=ReductionTarget(0.8), config=settings, generated_at=WHEN
        )
        return result, list(server.requests)


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_good_answer_is_accepted(vendor: Vendor) -> None:
    result, requests = _run(vendor, lambda r: vendor.reply(json.dumps(GOOD)))
    rates = {p.id: p.rate for p in result.document.patterns}
    assert result.fallback_reason is None
    assert result.generated_by == result.document.generated_by == f"llm:{vendor.name}:{vendor.model}"
    assert rates["health"] == 0.01
    assert result.document.severity_rates["DEBUG"] == 0.05
    assert result.reasoning == "Health checks are pure chatter."
    assert [r.path for r in requests] == [vendor.path]


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_answer_in_a_json_fence_is_accepted(vendor: Vendor) -> None:
    result, _ = _run(vendor, lambda r: vendor.reply("```json\n" + json.dumps(GOOD) + "\n```"))
    assert result.fallback_reason is None


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Sure! Here is your policy: {rates: low}", "invalid_json"),
        (json.dumps([1, 2, 3]), "invalid_json"),
        (json.dumps(SAMPLES_ERRORS), "invariant: $.severity_rates.ERROR error_rate"),
        (
            json.dumps({**GOOD, "patterns": [{"id": "reload", "rate": 0.1}]}),
            "invariant: $.patterns[4].rate rare_pattern",
        ),
        (json.dumps({**GOOD, "patterns": [{"id": "nope", "rate": 0.1}]}), "invalid_answer: $.patterns[0].id"),
        (json.dumps({**GOOD, "drop_everything": True}), "invalid_answer: $.drop_everything unknown_field"),
        (json.dumps({**GOOD, "patterns": [{"id": "health", "rate": 7}]}), "invariant: $.patterns[0].rate rate_range"),
    ],
)
def test_bad_answer_falls_back_to_rules_with_the_reason(vendor: Vendor, answer: str, reason: str) -> None:
    result, _ = _run(vendor, lambda r: vendor.reply(answer))
    assert result.generated_by == result.document.generated_by == "rules"
    assert result.fallback_reason is not None and result.fallback_reason.startswith(reason)
    assert result.document.severity_rates["ERROR"] == 1.0
    assert result.attempted == f"llm:{vendor.name}:{vendor.model}"


def test_model_reasoning_is_kept_when_its_policy_is_refused() -> None:
    vendor = VENDORS[0]
    result, _ = _run(vendor, lambda r: vendor.reply(json.dumps(SAMPLES_ERRORS)))
    assert result.fallback_reason is not None
    assert result.model_reasoning == "Health checks are pure chatter."
    assert result.reasoning == result.document.reasoning != result.model_reasoning


def _openai_refusal(recorded: Recorded) -> Reply:
    reply = openai_reply("")
    reply.body["choices"][0]["message"]["refusal"] = "I can't help with that."
    reply.body["choices"][0]["message"]["content"] = None
    return reply


def _anthropic_refusal(recorded: Recorded) -> Reply:
    reply = anthropic_reply("")
    reply.body["stop_reason"] = "refusal"
    reply.body["content"] = []
    return reply


def _openai_truncated(recorded: Recorded) -> Reply:
    reply = openai_reply('{"reasoning": "cut')
    reply.body["choices"][0]["finish_reason"] = "length"
    return reply


@pytest.mark.parametrize(
    ("vendor", "script", "reason"),
    [
        (VENDORS[0], _openai_refusal, "refusal"),
        (VENDORS[1], _anthropic_refusal, "refusal"),
        (VENDORS[0], _openai_truncated, "truncated"),
    ],
    ids=["openai-refusal", "anthropic-refusal", "openai-truncated"],
)
def test_refusal_or_truncation_falls_back(vendor: Vendor, script: Callable[[Recorded], Reply], reason: str) -> None:
    result, _ = _run(vendor, script)
    assert result.generated_by == "rules"
    assert result.fallback_reason is not None and result.fallback_reason.startswith(reason)


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_timeout_falls_back_to_rules(vendor: Vendor) -> None:
    result, requests = _run(
        vendor, lambda r: Reply(body=vendor.reply(json.dumps(GOOD)).body, delay=1.5), timeout_seconds=0.3, max_retries=1
    )
    assert result.generated_by == "rules"
    assert result.fallback_reason is not None and result.fallback_reason.startswith("timeout")
    assert len(requests) == 2


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_rate_limit_storm_is_retried_a_bounded_number_of_times_then_falls_back(vendor: Vendor) -> None:
    result, requests = _run(vendor, lambda r: rate_limited(), max_retries=2)
    assert result.generated_by == "rules"
    assert result.fallback_reason is not None and result.fallback_reason.startswith("rate_limited")
    assert len(requests) == 3


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_server_error_then_success_is_retried(vendor: Vendor) -> None:
    def script(recorded: Recorded) -> Reply:
        return Reply(status=503, body={"error": "busy"}, headers={"retry-after-ms": "10", "retry-after": "0"})

    calls: list[int] = []

    def flaky(recorded: Recorded) -> Reply:
        calls.append(1)
        return script(recorded) if len(calls) == 1 else vendor.reply(json.dumps(GOOD))

    result, requests = _run(vendor, flaky)
    assert result.fallback_reason is None
    assert len(requests) == 2


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_no_request_carries_personal_data(vendor: Vendor) -> None:
    _, requests = _run(vendor, lambda r: vendor.reply(json.dumps(GOOD)))
    bodies = " ".join(r.body for r in requests)
    assert requests and "payment" in bodies
    leaked = [secret for secret in SECRETS if secret in bodies or json.dumps(secret)[1:-1] in bodies]
    assert leaked == []


def test_rules_provider_never_calls_out() -> None:
    result = generate_policy(
        service="checkout", stats=STATS, target=ReductionTarget(0.8), config=LLMConfig(), generated_at=WHEN
    )
    assert (result.generated_by, result.fallback_reason) == ("rules", None)


def test_unreachable_server_falls_back() -> None:
    config = LLMConfig(provider="ollama", base_url="http://127.0.0.1:9", timeout_seconds=1.0, max_retries=0)
    result = generate_policy(service="checkout", stats=STATS, target=ReductionTarget(0.8), config=config)
    assert result.generated_by == "rules"
    assert result.fallback_reason is not None and result.fallback_reason.startswith("connection_error")
