"""The policy read cache: Redis (or local memory) in front of the database, invalidated on publish.

A cached read is one Redis round trip: the entry (ETag, version and the exact response bytes, so a read neither
unpickles nor re-renders a document) and the lookup counter travel in one pipeline. Misses and errors are counted
apart; hits are lookups less misses. A cache that cannot be reached is skipped, never fatal: the answer then comes
from the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils.http import parse_etags
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from lipservice.cachetools import counter_get_many, counter_incr, redis_client
from lipservice.metrics import POLICY_CACHE

logger = logging.getLogger(__name__)

POLICY_TTL_SECONDS = 3600
_ERRORS = (ConnectionInterrupted, RedisError, OSError)
LOOKUPS_COUNTER = _LOOKUPS = "policy:cache:lookup"
MISSES_COUNTER = _MISSES = "policy:cache:miss"
_ERRORS_COUNTER = "policy:cache:error"


@dataclass(frozen=True)
class CachedPolicy:
    etag: str
    body: bytes
    version: int

    def encode(self) -> bytes:
        return b"%s\n%d\n%s" % (self.etag.encode("ascii"), self.version, self.body)

    @classmethod
    def decode(cls, raw: bytes) -> CachedPolicy | None:
        """The entry from its stored form; None for anything else (a value written by an older release)."""
        parts = raw.split(b"\n", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(etag=parts[0].decode("ascii", "replace"), version=int(parts[1]), body=parts[2])

    def matches(self, if_none_match: str) -> bool:
        """Whether an If-None-Match header names this entry (or is `*`)."""
        etags = parse_etags(if_none_match) if if_none_match else []
        return self.etag in etags or "*" in etags


def policy_cache_key(team_id: int, service_name: str) -> str:
    """Keyed by what the request names, so a cached read needs no database lookup of the service. The name is any
    text a request puts in the path (control characters, spaces, kilobytes of it): the key holds its digest, so it
    is short and valid for every cache backend."""
    digest = hashlib.blake2b(service_name.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"policy:active:{team_id}:{digest}"


def _count(counter: str) -> None:
    with contextlib.suppress(*_ERRORS, ValueError):
        counter_incr(counter)


def _read(key: str) -> bytes | None:
    client = redis_client()
    if client is None:
        cache.add(_LOOKUPS, 0, timeout=None)
        cache.incr(_LOOKUPS)
        value = cache.get(key)
        return value if isinstance(value, bytes) else None
    pipe = client.pipeline(transaction=False)
    pipe.get(cache.make_and_validate_key(key))
    pipe.incr(cache.make_and_validate_key(_LOOKUPS))
    value, _ = pipe.execute()
    return value if isinstance(value, bytes) else None


def policy_cache_get(team_id: int, service_name: str) -> CachedPolicy | None:
    try:
        raw = _read(policy_cache_key(team_id, service_name))
    except _ERRORS as exc:
        logger.warning("policy cache unavailable, reading the database: %s", exc)
        POLICY_CACHE.labels("error").inc()
        _count(_ERRORS_COUNTER)
        return None
    entry = CachedPolicy.decode(raw) if raw is not None else None
    if entry is None:
        POLICY_CACHE.labels("miss").inc()
        _count(_MISSES)
        return None
    POLICY_CACHE.labels("hit").inc()
    return entry


def policy_cache_set(team_id: int, service_name: str, entry: CachedPolicy) -> None:
    key = policy_cache_key(team_id, service_name)
    try:
        client = redis_client()
        if client is None:
            cache.set(key, entry.encode(), timeout=POLICY_TTL_SECONDS)
        else:
            client.set(cache.make_and_validate_key(key), entry.encode(), ex=POLICY_TTL_SECONDS)
    except _ERRORS as exc:
        logger.warning("policy cache unavailable, not caching: %s", exc)


def policy_cache_invalidate(team_id: int, service_name: str) -> bool:
    try:
        cache.delete(policy_cache_key(team_id, service_name))
    except _ERRORS as exc:
        logger.warning("policy cache invalidation failed: %s", exc)
        return False
    return True


def policy_cache_counters() -> dict[str, int]:
    """Cache reads since the counters were last cleared: hits, misses, and errors (Redis unreachable)."""
    try:
        values: dict[str, Any] = counter_get_many([_LOOKUPS, _MISSES, _ERRORS_COUNTER])
    except _ERRORS:
        return {}
    lookups, misses = values[_LOOKUPS], values[_MISSES]
    return {"hit": max(lookups - misses, 0), "miss": misses, "error": values[_ERRORS_COUNTER]}
