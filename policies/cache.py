"""The policy read cache: Redis (or local memory) in front of the database, invalidated on publish.

A cache that cannot be reached is skipped, never fatal: the answer then comes from the database.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from lipservice.cachetools import counter_get_many, counter_incr
from lipservice.metrics import POLICY_CACHE

logger = logging.getLogger(__name__)

POLICY_TTL_SECONDS = 3600
_ERRORS = (ConnectionInterrupted, RedisError, OSError)
_COUNTERS = ("hit", "miss", "error")


@dataclass(frozen=True)
class CachedPolicy:
    etag: str
    body: str
    version: int


def _key(team_id: int, service_name: str) -> str:
    # Keyed by what the request names, so a cached read needs no database lookup of the service.
    return f"policy:active:{team_id}:{service_name}"


def _count(outcome: str) -> None:
    POLICY_CACHE.labels(outcome).inc()
    with contextlib.suppress(*_ERRORS, ValueError):
        counter_incr(f"policy:cache:{outcome}")


def policy_cache_get(team_id: int, service_name: str) -> CachedPolicy | None:
    try:
        raw: Any = cache.get(_key(team_id, service_name))
    except _ERRORS as exc:
        logger.warning("policy cache unavailable, reading the database: %s", exc)
        _count("error")
        return None
    if raw is None:
        _count("miss")
        return None
    _count("hit")
    return CachedPolicy(**raw)


def policy_cache_set(team_id: int, service_name: str, entry: CachedPolicy) -> None:
    try:
        cache.set(_key(team_id, service_name), entry.__dict__, timeout=POLICY_TTL_SECONDS)
    except _ERRORS as exc:
        logger.warning("policy cache unavailable, not caching: %s", exc)


def policy_cache_invalidate(team_id: int, service_name: str) -> bool:
    try:
        cache.delete(_key(team_id, service_name))
    except _ERRORS as exc:
        logger.warning("policy cache invalidation failed: %s", exc)
        return False
    return True


def policy_cache_counters() -> dict[str, int]:
    try:
        values = counter_get_many([f"policy:cache:{name}" for name in _COUNTERS])
    except _ERRORS:
        return {}
    return {name: values[f"policy:cache:{name}"] for name in _COUNTERS}
