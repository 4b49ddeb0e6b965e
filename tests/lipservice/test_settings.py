"""Start-up refuses bad environment values, naming the variable; CI runs on the real services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_URL", "nonsense"),
        ("DATABASE_URL", "mysql://x"),
        ("CELERY_BROKER_URL", "localhost:6379"),
        ("DJANGO_DEBUG", "maybe"),
        ("LIPSERVICE_API_RATE", "fast"),
        ("LIPSERVICE_LLM_PROVIDER", "skynet"),
        ("DATABASE_CONN_MAX_AGE", "forever"),
    ],
)
def test_bad_environment_value_stops_startup_naming_the_variable(variable: str, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env[variable] = value
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


@pytest.mark.skipif(not REQUIRE_SERVICES, reason="only when services are required (CI)")
@pytest.mark.django_db
def test_suite_runs_on_postgresql_and_redis_when_services_are_required() -> None:
    assert connection.vendor == "postgresql"
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    cache.set("engine-check", "1", timeout=5)
    assert cache.get("engine-check") == "1"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_deploy_checks_are_clean_with_production_settings() -> None:
    # DJANGO_ALLOW_ASYNC_UNSAFE belongs to the browser tests' process, never to a deployment.
    dropped = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        LIPSERVICE_PRODUCTION="1",
        DJANGO_SECRET_KEY="k" * 20 + "-production-secret-key-for-the-check-0123456789",
        LIPSERVICE_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_the_embedded_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["LIPSERVICE_PRODUCTION"] = "1"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_an_explicit_encryption_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LIPSERVICE_ENCRYPTION_KEY"}
    env.update(LIPSERVICE_PRODUCTION="1", DJANGO_SECRET_KEY="k" * 20 + "-production-secret-key-for-the-check-0123")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "LIPSERVICE_ENCRYPTION_KEY must be set" in result.stderr
