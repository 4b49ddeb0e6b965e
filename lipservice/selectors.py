"""Reads for tenancy."""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from lipservice.models import API_KEY_PREFIX, ApiKey, Team, hash_api_key

API_KEY_CACHE_SECONDS = 60
CACHE_ERRORS: tuple[type[Exception], ...] = (ConnectionInterrupted, RedisError, OSError)


def api_key_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def api_key_find_active(*, raw: str) -> ApiKey | None:
    """The active key with its team; cached briefly (revocation clears it) so a policy read needs no database."""
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > 128:
        return None
    key_hash = hash_api_key(raw)
    try:
        cached = cache.get(api_key_cache_key(key_hash))
    except CACHE_ERRORS:
        cached = None
    if isinstance(cached, ApiKey):
        return cached
    key = ApiKey.objects.active().select_related("team").filter(key_hash=key_hash).first()
    if key is not None:
        with contextlib.suppress(*CACHE_ERRORS):
            cache.set(api_key_cache_key(key_hash), key, timeout=API_KEY_CACHE_SECONDS)
    return key


def team_for_user(*, user: Any) -> Team | None:
    return Team.objects.filter(members=user).order_by("id").first()


def team_get(*, name: str) -> Team | None:
    return Team.objects.filter(name=name).first()
