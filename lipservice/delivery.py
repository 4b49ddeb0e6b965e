"""One outbound POST of a signed webhook or an alert, classified for retrying: the shared delivery attempt."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    status: int | None
    error: str
    retryable: bool


def post_once(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    post: Callable[..., httpx.Response] | None = None,
) -> Attempt:
    """Network errors, 429 and 5xx are worth retrying; any other non-2xx is final."""
    try:
        response = (post or httpx.post)(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500], True)
    if response.is_success:
        return Attempt(True, response.status_code, "", False)
    retryable = response.status_code == 429 or response.status_code >= 500
    return Attempt(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}", retryable)
