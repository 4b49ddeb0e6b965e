"""Reads for tenancy."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from lipservice.models import API_KEY_PREFIX, ApiKey, Team, TeamMembership, hash_api_key

API_KEY_CACHE_SECONDS = 60
# Each process also remembers a resolved key for a few seconds, so a steady stream of reads with one key does not
# ask Redis who it is every time. Revocation clears both at once in the revoking process; elsewhere a revoked key
# stops working within API_KEY_LOCAL_SECONDS.
API_KEY_LOCAL_SECONDS = 5.0
_LOCAL_KEYS: dict[str, tuple[float, ApiKey]] = {}
_LOCAL_KEYS_LIMIT = 10_000
CACHE_ERRORS: tuple[type[Exception], ...] = (ConnectionInterrupted, RedisError, OSError)


def api_key_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def api_key_find_active(*, raw: str) -> ApiKey | None:
    """The active key with its team; cached briefly (revocation clears it) so a policy read needs no database."""
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > 128:
        return None
    key_hash = hash_api_key(raw)
    now = time.monotonic()
    local = _LOCAL_KEYS.get(key_hash)
    if local is not None and local[0] > now:
        return local[1]
    try:
        cached = cache.get(api_key_cache_key(key_hash))
    except CACHE_ERRORS:
        cached = None
    key = cached if isinstance(cached, ApiKey) else None
    if key is None:
        key = ApiKey.objects.active().select_related("team").filter(key_hash=key_hash).first()
        if key is not None:
            with contextlib.suppress(*CACHE_ERRORS):
                cache.set(api_key_cache_key(key_hash), key, timeout=API_KEY_CACHE_SECONDS)
    if key is not None:
        if len(_LOCAL_KEYS) >= _LOCAL_KEYS_LIMIT:
            _LOCAL_KEYS.clear()
        _LOCAL_KEYS[key_hash] = (now + API_KEY_LOCAL_SECONDS, key)
    return key


def api_key_find_local(*, raw: str) -> ApiKey | None:
    """The key if this process resolved it within API_KEY_LOCAL_SECONDS; None means "ask api_key_find_active"."""
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > 128:
        return None
    local = _LOCAL_KEYS.get(hash_api_key(raw))
    if local is None or local[0] <= time.monotonic():
        return None
    return local[1]


def api_key_forget_local(*, key_hash: str) -> None:
    _LOCAL_KEYS.pop(key_hash, None)


def team_for_user(*, user: Any) -> Team | None:
    return Team.objects.filter(members=user).order_by("id").first()


def user_is_team_admin(*, user: Any, team: Team) -> bool:
    user_id = getattr(user, "pk", None)
    return user_id is not None and TeamMembership.objects.filter(
        team=team, user_id=user_id, role=TeamMembership.Role.ADMIN
    ).exists()


def team_get(*, name: str) -> Team | None:
    return Team.objects.filter(name=name).first()
