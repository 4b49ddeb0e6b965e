"""Liveness and readiness: readiness checks the database, the cache and the Celery broker one by one."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from kombu.connection import Connection


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} ok"


def _cache_name() -> str:
    backend = str(settings.CACHES["default"]["BACKEND"])
    return "Redis" if "redis" in backend.lower() else "local memory"


def check_cache() -> str:
    token = str(time.monotonic_ns())
    try:
        cache.set("lipservice:ready", token, timeout=10)
        if cache.get("lipservice:ready") != token:
            raise RuntimeError("did not return the value just written")
    except Exception as exc:
        raise RuntimeError(f"{_cache_name()} cache: {type(exc).__name__}: {exc}") from exc
    return f"{_cache_name()} ok"


def check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "eager (no broker configured; tasks run in process)"
    with Connection(  # type: ignore[no-untyped-call]
        settings.CELERY_BROKER_URL, connect_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    return "Celery broker ok"


CHECKS: dict[str, Callable[[], object]] = {"database": check_database, "cache": check_cache, "broker": check_broker}


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
            results[name] = {"ok": True, "detail": detail if isinstance(detail, str) else "ok"}
        except Exception as exc:
            healthy = False
            detail = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": False, "detail": detail[:300]}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return healthy, results
