"""Signed webhook payloads: the signature scheme receivers verify (its one home is lipservice.delivery)."""

from __future__ import annotations

from lipservice.delivery import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TOLERANCE_SECONDS, sign, verify

__all__ = ["DELIVERY_HEADER", "EVENT_HEADER", "SIGNATURE_HEADER", "TOLERANCE_SECONDS", "sign", "verify"]
