"""The one delivery mechanism for webhooks (policies) and alerts (insights): signed, sent through the outbound door,
retried with one policy, every attempt recorded on the delivery row; and the escaping of text that came from logs
before it enters a payload someone else renders.

Signature: `X-LipService-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from django.utils import timezone

from lipservice.outbound import OutboundRefused, error_summary, outbound_client

SIGNATURE_HEADER = "X-LipService-Signature"
EVENT_HEADER = "X-LipService-Event"
DELIVERY_HEADER = "X-LipService-Delivery"
TOLERANCE_SECONDS = 300
DELIVERY_TIMEOUT_SECONDS = 10.0
# The retry policy of every delivery task: exponential backoff from 5 s to 10 min with jitter, five retries.
MAX_RETRIES = 5
RETRY_POLICY: dict[str, Any] = {"retry_backoff": 5, "retry_backoff_max": 600, "retry_jitter": True}


class DeliveryRetry(Exception):
    """A delivery failed in a way worth retrying (network error, 429 or 5xx)."""


class DeliveryRecord(Protocol):
    """A delivery row: webhooks' and alerts' both have these fields."""

    attempts: int
    response_status: int | None
    error: str
    status: str
    delivered_at: datetime | None

    def save(self, *args: Any, **kwargs: Any) -> None: ...


def sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def verify(
    *, secret: str, body: bytes, header: str, tolerance: int = TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent, so a replay is refused."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = sign(secret=secret, body=body, timestamp=ts).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def signed_headers(*, secret: str, body: bytes, event: str, delivery_id: str) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(secret=secret, body=body), EVENT_HEADER: event, DELIVERY_HEADER: delivery_id}


def deliver(
    record: DeliveryRecord,
    *,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    final_attempt: bool,
    post: Callable[..., httpx.Response] | None = None,
) -> DeliveryRecord:
    """One attempt, recorded on `record` (status `delivered` or, once no retry is left or none would help, `failed`).
    Raises DeliveryRetry when the task should try again."""
    record.attempts += 1
    attempt = post_once(url, body=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS, post=post)
    record.response_status = attempt.status or record.response_status
    record.error = attempt.error
    if attempt.delivered:
        record.status = "delivered"
        record.delivered_at = timezone.now()
    elif not attempt.retryable or final_attempt:
        record.status = "failed"
    record.save()
    if not attempt.delivered and attempt.retryable and not final_attempt:
        raise DeliveryRetry(record.error)
    return record


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
