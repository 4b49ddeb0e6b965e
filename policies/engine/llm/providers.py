"""One door per LLM vendor: OpenAI chat completions, Anthropic messages, Ollama /api/chat; errors become LLMError."""

from __future__ import annotations

import contextlib
import time
from typing import Protocol

import httpx

from policies.engine.llm.config import LLMConfig

MAX_RETRY_AFTER_SECONDS = 30.0


class LLMError(Exception):
    """A provider failure; `reason` is a short code recorded as the fallback reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class LLMProvider(Protocol):
    name: str
    model: str

    def complete(self, *, system: str, user: str) -> str: ...


class OpenAIProvider:
    name = "openai"

    def __init__(self, *, config: LLMConfig) -> None:
        self.model = config.model_name
        self._config = config
        import openai  # the SDKs load only when a provider is built: mining and most commands never need them

        self._client = openai.OpenAI(
            api_key=config.api_key or "unset",
            base_url=config.base_url or None,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )

    def complete(self, *, system: str, user: str) -> str:
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={"type": "json_object"},
                temperature=0,
                max_tokens=self._config.max_output_tokens,
            )
        except openai.APITimeoutError as exc:
            raise LLMError("timeout", str(exc)) from exc
        except openai.RateLimitError as exc:
            raise LLMError("rate_limited", str(exc)) from exc
        except openai.APIStatusError as exc:
            raise LLMError("http_error", f"HTTP {exc.status_code}") from exc
        except openai.APIError as exc:
            raise LLMError("connection_error", str(exc)) from exc
        if not response.choices:
            raise LLMError("empty", "no choices in the response")
        choice = response.choices[0]
        if choice.message.refusal:
            raise LLMError("refusal", choice.message.refusal[:200])
        if choice.finish_reason == "length":
            raise LLMError("truncated", "the answer hit the output token limit")
        return choice.message.content or ""


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, *, config: LLMConfig) -> None:
        self.model = config.model_name
        self._config = config
        import anthropic

        self._client = anthropic.Anthropic(
            api_key=config.api_key or "unset",
            base_url=config.base_url or None,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )

    def complete(self, *, system: str, user: str) -> str:
        import anthropic

        try:
            response = self._client.messages.create(
                model=self.model,
                max_tokens=self._config.max_output_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
            )
        except anthropic.APITimeoutError as exc:
            raise LLMError("timeout", str(exc)) from exc
        except anthropic.RateLimitError as exc:
            raise LLMError("rate_limited", str(exc)) from exc
        except anthropic.APIStatusError as exc:
            raise LLMError("http_error", f"HTTP {exc.status_code}") from exc
        except anthropic.APIError as exc:
            raise LLMError("connection_error", str(exc)) from exc
        if response.stop_reason == "refusal":
            raise LLMError("refusal", "the model refused")
        if response.stop_reason == "max_tokens":
            raise LLMError("truncated", "the answer hit the output token limit")
        return "".join(block.text for block in response.content if block.type == "text")


class OllamaProvider:
    """Ollama has no official Python client in our stack; its HTTP API is small enough to speak directly."""

    name = "ollama"

    def __init__(self, *, config: LLMConfig, sleep: float = 1.0) -> None:
        self.model = config.model_name
        self._config = config
        self._backoff = sleep
        self._client = httpx.Client(
            base_url=config.base_url or "http://127.0.0.1:11434", timeout=config.timeout_seconds
        )

    def complete(self, *, system: str, user: str) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "format": "json",
            "stream": False,
            "options": {"temperature": 0, "num_predict": self._config.max_output_tokens},
        }
        for attempt in range(self._config.max_retries + 1):
            last = attempt == self._config.max_retries
            try:
                response = self._client.post("/api/chat", json=body)
            except httpx.TimeoutException as exc:
                if last:
                    raise LLMError("timeout", str(exc)) from exc
                self._wait(attempt, None)
                continue
            except httpx.HTTPError as exc:
                raise LLMError("connection_error", str(exc)) from exc
            if response.status_code == 429 or response.status_code >= 500:
                if last:
                    reason = "rate_limited" if response.status_code == 429 else "http_error"
                    raise LLMError(reason, f"HTTP {response.status_code} after {attempt + 1} attempts")
                self._wait(attempt, response.headers.get("retry-after"))
                continue
            if response.status_code >= 400:
                raise LLMError("http_error", f"HTTP {response.status_code}")
            try:
                data = response.json()
                content = data["message"]["content"]
            except (ValueError, KeyError, TypeError) as exc:
                raise LLMError("invalid_response", "not an Ollama chat response") from exc
            if not isinstance(content, str):
                raise LLMError("invalid_response", "message content is not text")
            return content
        raise LLMError("http_error", "no attempt made")

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self._backoff * (2**attempt)
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = float(retry_after)
        time.sleep(min(max(delay, 0.0), MAX_RETRY_AFTER_SECONDS))


def provider_from_config(config: LLMConfig) -> LLMProvider:
    if config.provider == "openai":
        return OpenAIProvider(config=config)
    if config.provider == "anthropic":
        return AnthropicProvider(config=config)
    if config.provider == "ollama":
        return OllamaProvider(config=config)
    raise LLMError("no_provider", f"provider {config.provider!r} is not an LLM")
