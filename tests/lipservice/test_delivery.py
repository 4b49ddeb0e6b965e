"""One delivery mechanism: webhooks and alerts share the signing, the outbound door, the retry policy and the
recording of each attempt."""

from __future__ import annotations

import pytest

from insights.tasks import deliver_alert
from lipservice.delivery import DeliveryRetry, sign, verify
from policies.tasks import deliver_webhook


@pytest.mark.parametrize(
    "field", ["autoretry_for", "max_retries", "retry_backoff", "retry_backoff_max", "retry_jitter"]
)
def test_webhooks_and_alerts_retry_with_one_policy(field: str) -> None:
    assert getattr(deliver_webhook, field) == getattr(deliver_alert, field)
    assert deliver_webhook.autoretry_for == (DeliveryRetry,)


def test_a_signature_verifies_and_a_replay_or_change_does_not() -> None:
    header = sign(secret="whsec_x", body=b"{}", timestamp=1_000)
    assert verify(secret="whsec_x", body=b"{}", header=header, now=1_010)
    assert not verify(secret="whsec_x", body=b"{} ", header=header, now=1_010)
    assert not verify(secret="whsec_x", body=b"{}", header=header, now=1_000 + 301)
