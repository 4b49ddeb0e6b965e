"""Which LLM to ask and how patiently: built from Django settings or any object with the same attribute names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROVIDERS: tuple[str, ...] = ("rules", "openai", "anthropic", "ollama")
DEFAULT_MODELS: dict[str, str] = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "ollama": "llama3.1"}


@dataclass(frozen=True)
class LLMConfig:
    provider: str = "rules"
    model: str = ""
    api_key: str = ""
    base_url: str = ""
    timeout_seconds: float = 30.0
    max_retries: int = 2
    max_prompt_tokens: int = 12_000
    max_output_tokens: int = 4_000

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODELS.get(self.provider, "")

    @classmethod
    def from_settings(cls, settings: Any) -> LLMConfig:
        """Read LIPSERVICE_LLM_* and the provider's key/URL settings (see lipservice/settings.py)."""
        provider = str(getattr(settings, "LIPSERVICE_LLM_PROVIDER", "rules") or "rules").lower()
        if provider not in PROVIDERS:
            raise ValueError(f"unknown LLM provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
        key_name, url_name = {
            "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
            "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
            "ollama": ("", "OLLAMA_URL"),
        }.get(provider, ("", ""))
        return cls(
            provider=provider,
            model=str(getattr(settings, "LIPSERVICE_LLM_MODEL", "") or ""),
            api_key=str(getattr(settings, key_name, "") or "") if key_name else "",
            base_url=str(getattr(settings, url_name, "") or "") if url_name else "",
            timeout_seconds=float(getattr(settings, "LIPSERVICE_LLM_TIMEOUT", 30.0)),
            max_retries=int(getattr(settings, "LIPSERVICE_LLM_MAX_RETRIES", 2)),
            max_prompt_tokens=int(getattr(settings, "LIPSERVICE_LLM_MAX_PROMPT_TOKENS", 12_000)),
        )
