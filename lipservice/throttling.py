"""Per-key request throttling kept in the cache (Redis in production), answering 429 with Retry-After.

Two budgets per credential: `sdk` for what app instances send (policy reads and stats posts; a whole fleet shares
one key, so it is sized for thousands of instances) and `management` for everything else (tighter).

A fixed-window counter (one atomic increment per request) rather than DRF's list of timestamps, whose read and
rewrite grows with the rate and would dominate the cost of a policy read.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from lipservice.authentication import request_is_sdk_call
from lipservice.cachetools import counter_incr
from lipservice.models import ApiKey

SDK_BUDGET = "sdk"
MANAGEMENT_BUDGET = "management"


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self, scope: str = MANAGEMENT_BUDGET) -> None:
        self.configure(scope)
        self.retry_after: float | None = None

    def configure(self, scope: str) -> None:
        rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        parsed = SimpleRateThrottle.parse_rate(self, str(rates[scope]))  # type: ignore[arg-type, index]
        self.scope = scope
        self.num_requests: int = parsed[0] or 0
        self.duration: int = parsed[1] or 1

    def ident_for(self, request: Request) -> str:
        if isinstance(request.auth, ApiKey):
            return f"key:{request.auth.pk}"
        if getattr(request.user, "is_authenticated", False):
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: Any) -> bool:
        self.configure(SDK_BUDGET if request_is_sdk_call(request, view) else MANAGEMENT_BUDGET)
        return self.allow(self.ident_for(request))

    def counter_key(self, ident: str, now: float) -> str:
        """The cache key counting `ident`'s requests in the window holding `now` (lipservice.fastpath counts there
        too)."""
        return f"throttle:{self.scope}:{ident}:{int(now // self.duration)}"

    def allow(self, ident: str) -> bool:
        """Count one request for `ident` (`key:<pk>`, `user:<pk>`, `ip:<address>`) in the current window."""
        now = time.time()
        window = int(now // self.duration)
        key = self.counter_key(ident, now)
        try:
            # add() is a no-op when the key exists; incr() is atomic in Redis and under the local-memory lock.
            count = counter_incr(key, timeout=self.duration + 1)
        except (ConnectionInterrupted, RedisError, OSError, ValueError):
            # A throttle that cannot reach its cache must not take the API down with it.
            return True
        if count <= self.num_requests:
            return True
        self.retry_after = (window + 1) * self.duration - now
        return False

    def wait(self) -> float | None:
        return self.retry_after


class KeyLookupThrottle(ApiKeyRateThrottle):
    """Database lookups of keys the cache does not know, per client address: guessing keys is throttled before it
    reaches the database (the unknown answer is then cached too)."""

    def configure(self, scope: str) -> None:
        parsed = SimpleRateThrottle.parse_rate(self, settings.LIPSERVICE_KEY_LOOKUP_RATE)  # type: ignore[arg-type]
        self.scope = "key_lookup"
        self.num_requests = parsed[0] or 0
        self.duration = parsed[1] or 1
