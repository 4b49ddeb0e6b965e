"""Policy → the JSON an SDK reads: the canonical, validated `lipservice.policy/v1` text with its etag."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lipservice_sdk.policy import PolicyDocument, policy_from_dict


def policy_to_sdk_json(document: PolicyDocument | Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, so equal policies give equal bytes (and equal etags)."""
    parsed = document if isinstance(document, PolicyDocument) else policy_from_dict(dict(document))
    if not parsed.etag:
        parsed = parsed.with_etag()
    return str(parsed.to_json())
