"""Signed webhook payloads: `X-LipService-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-LipService-Signature"
EVENT_HEADER = "X-LipService-Event"
DELIVERY_HEADER = "X-LipService-Delivery"
TOLERANCE_SECONDS = 300


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
