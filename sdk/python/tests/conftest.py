"""Shared SDK fixtures: no configuration outlives its test, and an isolated application logger per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from lipservice_fakes import ListHandler
from lipservice_sdk import active


@pytest.fixture(autouse=True)
def _shutdown_active() -> Iterator[None]:
    yield
    handle = active()
    if handle is not None:
        handle.shutdown(1.0)


@pytest.fixture
def app_logger(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, ListHandler]]:
    """A non-propagating DEBUG logger named after the test, with a handler standing in for the application's own."""
    logger = logging.getLogger(f"{request.module.__name__}.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = ListHandler()
    logger.addHandler(handler)
    yield logger, handler
    for existing in list(logger.handlers):
        logger.removeHandler(existing)
