"""Prompt building: template files, redaction of everything sent, and a token budget that drops the smallest first."""

from __future__ import annotations

import pytest

from policies.engine.llm.config import LLMConfig
from policies.engine.llm.prompt import PROMPTS_DIR, build_prompt, estimate_tokens
from policies.engine.stats import PatternStats


def _stats(count: int) -> list[PatternStats]:
    return [
        PatternStats(
            id=f"p{i}",
            template=f"worker {i} processed item <*> for <*> in <*> ms",
            count=1000 - i,
            bytes=(1000 - i) * 120,
            severity_counts={"INFO": 1000 - i},
            examples=(f"worker {i} processed item 77 for user{i}@example.com in 12 ms",),
        )
        for i in range(count)
    ]


def _prompt(count: int, max_tokens: int) -> tuple[str, tuple[str, ...], int, int]:
    prompt = build_prompt(
        service="api",
        stats=_stats(count),
        suggested={},
        target=0.8,
        expected=0.79,
        rare_floor=10,
        max_tokens=max_tokens,
    )
    return prompt.user, prompt.pattern_ids, prompt.omitted, prompt.estimated_tokens


def test_prompt_templates_are_files() -> None:
    assert {p.name for p in PROMPTS_DIR.glob("*.txt")} >= {"policy_system.txt", "policy_user.txt"}


@pytest.mark.parametrize("max_tokens", [1_500, 3_000, 6_000])
def test_prompt_fits_the_token_budget_by_dropping_the_smallest_patterns(max_tokens: int) -> None:
    user, ids, omitted, tokens = _prompt(200, max_tokens)
    assert tokens <= max_tokens
    assert 0 < len(ids) < 200 and omitted == 200 - len(ids)
    assert ids == tuple(f"p{i}" for i in range(len(ids)))
    assert f"{omitted} smaller patterns are not listed" in user


def test_everything_fits_when_the_budget_allows() -> None:
    user, ids, omitted, _ = _prompt(5, 100_000)
    assert (len(ids), omitted) == (5, 0)
    assert "not listed" not in user


def test_examples_are_redacted_in_the_prompt() -> None:
    user, _, _, _ = _prompt(5, 100_000)
    assert "@example.com" not in user and "<EMAIL>" in user


def test_token_estimate_is_conservative() -> None:
    assert estimate_tokens("x" * 350) >= 100


class _Settings:
    LIPSERVICE_LLM_PROVIDER = "anthropic"
    LIPSERVICE_LLM_MODEL = ""
    LIPSERVICE_LLM_TIMEOUT = 12.5
    ANTHROPIC_API_KEY = "k"
    ANTHROPIC_BASE_URL = "http://127.0.0.1:1"


def test_config_is_read_from_settings() -> None:
    config = LLMConfig.from_settings(_Settings())
    assert (config.provider, config.api_key, config.base_url, config.timeout_seconds) == (
        "anthropic",
        "k",
        "http://127.0.0.1:1",
        12.5,
    )
    assert config.model_name == "claude-haiku-4-5"


def test_unknown_provider_is_refused() -> None:
    class Bad(_Settings):
        LIPSERVICE_LLM_PROVIDER = "palm"

    with pytest.raises(ValueError, match="unknown LLM provider"):
        LLMConfig.from_settings(Bad())
