"""The one policy read path (`GET /api/v1/policies/{service}`): the cached entry and how it is filled, the canonical
bytes (the SDK exporter's), ETag and 304, the response headers, and the SDK budget's throttle step.

Two adapters serve it: `lipservice.fastpath` in front of Django for the hot case (a key this process knows, a cached
policy, one Redis round trip) and `policies.views.PolicyView` for everything else; both build their answer here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

from lipservice.cachetools import redis_client
from lipservice.metrics import POLICY_CACHE
from lipservice.models import ApiKey, Team
from lipservice.throttling import SDK_BUDGET, ApiKeyRateThrottle
from patterns.selectors import service_get
from policies.cache import (
    LOOKUPS_COUNTER,
    MISSES_COUNTER,
    CachedPolicy,
    policy_cache_get,
    policy_cache_key,
    policy_cache_set,
)
from policies.exporters.sdk import policy_to_sdk_json
from policies.selectors import policy_active

POLICY_MAX_AGE_SECONDS = 60
CACHE_CONTROL = f"private, max-age={POLICY_MAX_AGE_SECONDS}"


@dataclass(frozen=True)
class PolicyAnswer:
    status: int  # 200 or 304
    headers: list[tuple[str, str]]
    body: bytes


def policy_entry(*, team: Team, service: str) -> CachedPolicy | None:
    """The active policy's cache entry, filled from the database on a miss; None when the service has none.
    Raises NotFound for a service the team does not have."""
    cached = policy_cache_get(team.pk, service)
    if cached is not None:
        return cached
    version = policy_active(service=service_get(team=team, name=service))
    if version is None:
        return None
    entry = CachedPolicy(etag=version.etag, body=policy_to_sdk_json(version.document).encode(), version=version.number)
    policy_cache_set(team.pk, service, entry)
    return entry


def policy_answer(entry: CachedPolicy, *, if_none_match: str) -> PolicyAnswer:
    """The status, headers and body for a read of `entry` (the cached bytes are the body: nothing is re-rendered)."""
    if entry.matches(if_none_match):
        return PolicyAnswer(304, [("ETag", entry.etag), ("Cache-Control", CACHE_CONTROL)], b"")
    headers = [("Content-Type", "application/json"), ("ETag", entry.etag), ("Cache-Control", CACHE_CONTROL)]
    return PolicyAnswer(200, headers, entry.body)


def policy_read_cached(*, key: ApiKey, service: str) -> CachedPolicy | None:
    """The hot read in one Redis round trip: count the request against the key's SDK budget, fetch the entry and
    count the lookup. None for anything the full path must answer (no Redis, a miss, the budget spent); a request
    handed on is not counted twice."""
    client = redis_client()
    if client is None:
        return None
    throttle = ApiKeyRateThrottle(SDK_BUDGET)
    throttle_key = cache.make_and_validate_key(throttle.counter_key(f"key:{key.pk}", time.time()))
    pipe = client.pipeline(transaction=False)
    pipe.incr(throttle_key)
    pipe.expire(throttle_key, throttle.duration + 1, nx=True)
    pipe.get(cache.make_and_validate_key(policy_cache_key(key.team_id, service)))
    pipe.incr(cache.make_and_validate_key(LOOKUPS_COUNTER))
    count, _, raw_entry, _ = pipe.execute()
    entry = CachedPolicy.decode(raw_entry) if isinstance(raw_entry, bytes) else None
    if entry is None:
        # The full path serves this one and counts it against the budget and as a cache lookup itself.
        pipe = client.pipeline(transaction=False)
        pipe.incr(cache.make_and_validate_key(MISSES_COUNTER))
        pipe.decr(throttle_key)
        pipe.execute()
        POLICY_CACHE.labels("miss").inc()
        return None
    if int(count) > throttle.num_requests:
        return None  # the full path answers the 429 with its Retry-After and error body
    POLICY_CACHE.labels("hit").inc()
    return entry
