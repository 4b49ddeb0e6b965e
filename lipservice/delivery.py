"""One outbound POST of a signed webhook or an alert, classified for retrying: the shared delivery attempt; and the
escaping of text that came from logs before it enters a payload someone else renders."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def plain_text(value: object, limit: int = 1000) -> str:
    """Log-derived text made inert for any receiver: control and bidi-override characters removed, length bounded."""
    return _CONTROL.sub("", str(value))[:limit]


def slack_text(value: object, limit: int = 2900) -> str:
    """Text for Slack mrkdwn: `&`, `<` and `>` escaped as Slack documents, so a logged `<!channel>`, `<@U…>` or
    `<https://…|link>` is shown, never acted on."""
    text = plain_text(value, limit)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """A Slack link whose URL cannot close the link early or add a label of its own."""
    safe = "".join(ch for ch in url if ch not in "<>| \n\r\t")
    return f"<{safe}|{slack_text(label, 200)}>" if safe.startswith(("https://", "http://")) else slack_text(label)


def plain_list(values: Iterable[object], limit: int = 1000) -> list[str]:
    return [plain_text(value, limit) for value in values]
