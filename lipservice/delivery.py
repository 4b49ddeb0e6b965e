"""One outbound POST of a signed webhook or an alert, classified for retrying: the shared delivery attempt."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from lipservice.outbound import OutboundRefused, error_summary, outbound_client


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
    """Network errors, 429 and 5xx are worth retrying; any other non-2xx, and a refused destination, is final. The
    destination goes through the outbound door; what is recorded of an answer is its status, never its body."""
    try:
        if post is not None:
            response = post(url, content=body, headers=dict(headers), timeout=timeout)
        else:
            with outbound_client(timeout=timeout) as client:
                response = client.post(url, content=body, headers=dict(headers))
    except OutboundRefused as exc:
        return Attempt(False, None, f"destination refused: {exc}"[:500], False)
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:300], True)
    if response.is_success:
        return Attempt(True, response.status_code, "", False)
    retryable = response.status_code == 429 or response.status_code >= 500
    return Attempt(False, response.status_code, error_summary(response), retryable)
