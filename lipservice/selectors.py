"""Reads for tenancy."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
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
# A revoked key's cache entry is a tombstone, kept far longer than any lookup can take, and a lookup only ever adds
# an entry where none is: a lookup that read the key just before it was revoked cannot cache it again.
API_KEY_TOMBSTONE_SECONDS = 24 * 3600
# A key nobody holds is remembered as unknown, so guessing costs a cache read, not a database query.
API_KEY_UNKNOWN_SECONDS = 60
REVOKED = "revoked"
UNKNOWN = "unknown"
_LOCAL_KEYS: dict[str, tuple[float, ApiKey]] = {}
_LOCAL_TOMBSTONES: dict[str, float] = {}
_LOCAL_KEYS_LIMIT = 10_000
CACHE_ERRORS: tuple[type[Exception], ...] = (ConnectionInterrupted, RedisError, OSError)


class ApiKeyLookupRefused(Exception):
    """The caller's budget of database lookups for keys the cache does not know is spent."""


def api_key_cache_key(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def _remember_locally(key_hash: str, key: ApiKey, now: float) -> None:
    if _LOCAL_TOMBSTONES.get(key_hash, 0.0) > now:
        return
    if len(_LOCAL_KEYS) >= _LOCAL_KEYS_LIMIT:
        _LOCAL_KEYS.clear()
    _LOCAL_KEYS[key_hash] = (now + API_KEY_LOCAL_SECONDS, key)


def _load(key_hash: str) -> ApiKey | None:
    return ApiKey.objects.active().select_related("team").filter(key_hash=key_hash).first()


def api_key_find_active(*, raw: str, may_query: Callable[[], bool] | None = None) -> ApiKey | None:
    """The active key with its team; cached briefly (revocation leaves a tombstone) so a policy read needs no
    database. `may_query` is asked before a database lookup of a key the cache does not know; when it says no,
    ApiKeyLookupRefused is raised."""
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > 128:
        return None
    key_hash = hash_api_key(raw)
    now = time.monotonic()
    local = _LOCAL_KEYS.get(key_hash)
    if local is not None and local[0] > now:
        return local[1]
    cache_key = api_key_cache_key(key_hash)
    try:
        cached = cache.get(cache_key)
    except CACHE_ERRORS:
        cached = None
    if cached in (REVOKED, UNKNOWN):
        return None
    key = cached if isinstance(cached, ApiKey) else None
    if key is None:
        if may_query is not None and not may_query():
            raise ApiKeyLookupRefused
        key = _load(key_hash)
        with contextlib.suppress(*CACHE_ERRORS):
            if key is None:
                cache.add(cache_key, UNKNOWN, timeout=API_KEY_UNKNOWN_SECONDS)
            elif not cache.add(cache_key, key, timeout=API_KEY_CACHE_SECONDS) and cache.get(cache_key) == REVOKED:
                return None  # revoked while we read it
    if key is not None:
        _remember_locally(key_hash, key, now)
    return key


def api_key_find_local(*, raw: str) -> ApiKey | None:
    """The key if this process resolved it within API_KEY_LOCAL_SECONDS; None means "ask api_key_find_active"."""
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > 128:
        return None
    local = _LOCAL_KEYS.get(hash_api_key(raw))
    if local is None or local[0] <= time.monotonic():
        return None
    return local[1]


def api_key_forget_local(*, key_hash: str, revoked: bool = False) -> None:
    _LOCAL_KEYS.pop(key_hash, None)
    if revoked:
        if len(_LOCAL_TOMBSTONES) >= _LOCAL_KEYS_LIMIT:
            _LOCAL_TOMBSTONES.clear()
        _LOCAL_TOMBSTONES[key_hash] = time.monotonic() + API_KEY_TOMBSTONE_SECONDS


def team_for_user(*, user: Any) -> Team | None:
    return Team.objects.filter(members=user).order_by("id").first()


def user_is_team_admin(*, user: Any, team: Team) -> bool:
    user_id = getattr(user, "pk", None)
    return (
        user_id is not None
        and TeamMembership.objects.filter(team=team, user_id=user_id, role=TeamMembership.Role.ADMIN).exists()
    )


def team_get(*, name: str) -> Team | None:
    return Team.objects.filter(name=name).first()
