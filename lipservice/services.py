"""Writes for tenancy: teams, memberships and API keys."""

from __future__ import annotations

import contextlib
import math
import time
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from lipservice import crypto
from lipservice.models import API_KEY_VISIBLE_CHARS, ApiKey, Team, TeamMembership, generate_api_key, hash_api_key
from lipservice.selectors import (
    API_KEY_TOMBSTONE_SECONDS,
    CACHE_ERRORS,
    REVOKED,
    api_key_cache_key,
    api_key_forget_local,
)

# last_used_at is informational; writing it on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)
# When this process last settled each key's last_used_at (by key hash): inside the resolution it needs not ask the
# cache again, so a steady stream of reads with one key costs no round trip for bookkeeping.
_TOUCHED: dict[str, float] = {}
_TOUCHED_LIMIT = 10_000


def team_get_or_create(*, name: str, **fields: Any) -> tuple[Team, bool]:
    return Team.objects.get_or_create(name=name, defaults=fields)


def team_member_add(*, team: Team, user: Any, role: str = TeamMembership.Role.MEMBER) -> TeamMembership:
    membership, _ = TeamMembership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def api_key_create(
    *, team: Team, name: str, scope: str = ApiKey.Scope.SDK, created_by: Any = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its one-time plaintext; only its hash is stored."""
    raw = generate_api_key()
    key = ApiKey.objects.create(
        team=team,
        name=name,
        scope=ApiKey.Scope(scope),
        prefix=raw[:API_KEY_VISIBLE_CHARS],
        key_hash=hash_api_key(raw),
        created_by=created_by,
    )
    return key, raw


def secrets_reencrypt() -> dict[str, int]:
    """Every `*_encrypted` column of every model rewritten under the newest key; counts per model and field."""
    counts: dict[str, int] = {}
    for model in apps.get_models():
        fields = [f.name for f in model._meta.concrete_fields if f.name.endswith("_encrypted")]
        for field in fields:
            moved = 0
            with transaction.atomic():
                rows = model._default_manager.select_for_update().exclude(**{field: ""}).values_list("pk", field)
                for pk, token in rows:
                    model._default_manager.filter(pk=pk).update(**{field: crypto.reencrypt(token)})
                    moved += 1
            counts[f"{model._meta.label}.{field}"] = moved
    return counts


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    key.revoke()
    api_key_forget(key=key, revoked=True)
    return key


def api_key_forget(*, key: ApiKey, revoked: bool = False) -> None:
    """Drop the cached lookups; a revoked or deleted key leaves a tombstone that no racing lookup can replace, so it
    stops working at once here and within API_KEY_LOCAL_SECONDS in other processes."""
    revoked = revoked or key.revoked_at is not None
    api_key_forget_local(key_hash=key.key_hash, revoked=revoked)
    with contextlib.suppress(*CACHE_ERRORS):
        if revoked:
            cache.set(api_key_cache_key(key.key_hash), REVOKED, timeout=API_KEY_TOMBSTONE_SECONDS)
        else:
            cache.delete(api_key_cache_key(key.key_hash))


def api_key_touch(*, key: ApiKey) -> None:
    """Record use at most once per LAST_USED_RESOLUTION per key, decided by one atomic cache add."""
    now_mono = time.monotonic()
    if now_mono - _TOUCHED.get(key.key_hash, -math.inf) < LAST_USED_RESOLUTION.total_seconds():
        return
    if len(_TOUCHED) >= _TOUCHED_LIMIT:
        _TOUCHED.clear()
    _TOUCHED[key.key_hash] = now_mono
    try:
        first = cache.add(f"apikey:touched:{key.pk}", 1, timeout=int(LAST_USED_RESOLUTION.total_seconds()))
    except CACHE_ERRORS:
        first = key.last_used_at is None or timezone.now() - key.last_used_at > LAST_USED_RESOLUTION
    if first:
        now = timezone.now()
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
