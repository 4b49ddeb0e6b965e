"""Single-round-trip counters on the configured cache: Redis INCR(+EXPIRE) when Redis is the cache, else add+incr."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache


def redis_client() -> Any:
    """The raw Redis client behind the default cache, or None when the cache is not Redis."""
    try:
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    except (ImportError, NotImplementedError):
        return None


def counter_incr(key: str, *, timeout: int | None = None) -> int:
    """Increment and return a counter, creating it at 1; raises the cache's connection errors."""
    client = redis_client()
    if client is None:
        cache.add(key, 0, timeout=timeout)
        return int(cache.incr(key))
    full = cache.make_and_validate_key(key)
    if timeout is None:
        return int(client.incr(full))
    pipe = client.pipeline(transaction=False)
    pipe.incr(full)
    pipe.expire(full, timeout, nx=True)
    count, _ = pipe.execute()
    return int(count)


def counter_get_many(keys: list[str]) -> dict[str, int]:
    client = redis_client()
    if client is None:
        values = cache.get_many(keys)
        return {key: int(values.get(key, 0)) for key in keys}
    raw = client.mget([cache.make_and_validate_key(key) for key in keys])
    return {key: int(value or 0) for key, value in zip(keys, raw, strict=True)}
