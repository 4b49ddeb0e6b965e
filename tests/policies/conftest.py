"""Fixtures for policy tests: a service and valid documents."""

from __future__ import annotations

from typing import Any

import pytest
from model_bakery import baker

from lipservice.models import Team
from patterns.models import Service


@pytest.fixture
def service(team: Team) -> Service:
    return baker.make(Service, team=team, name="checkout")


def make_document(*, info: float = 0.5, health: float = 0.01, **extra: Any) -> dict[str, Any]:
    return {
        "service": "checkout",
        "severity_rates": {"TRACE": 0.05, "DEBUG": 0.1, "INFO": info, "WARN": 1.0, "ERROR": 1.0, "FATAL": 1.0},
        "patterns": [
            {"id": "p_health", "template": "GET /healthz <*>", "rate": health, "reason": "health checks"},
            {"id": "p_cache", "template": "cache hit key=<*>", "rate": 0.05, "reason": "cache chatter"},
        ],
        "reasoning": "test policy",
        **extra,
    }


@pytest.fixture
def document() -> dict[str, Any]:
    return make_document()
