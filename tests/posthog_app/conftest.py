"""The PostHog stand-ins listen on 127.0.0.1, which the outbound door refuses unless the operator allows it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _outbound_allows_the_local_posthog(settings: Any) -> None:
    settings.LIPSERVICE_OUTBOUND_ALLOW = ["127.0.0.1"]
