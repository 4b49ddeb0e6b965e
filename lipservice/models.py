"""Teams (one PostHog project each), their members and API keys."""

from __future__ import annotations

import hashlib
import os
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from lipservice import crypto

API_KEY_PREFIX = "lsk_"
API_KEY_VISIBLE_CHARS = 12


class Team(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    posthog_host = models.URLField(default="https://us.posthog.com", help_text="PostHog app host for API reads.")
    posthog_ingest_host = models.URLField(default="https://us.i.posthog.com", help_text="OTLP ingestion host.")
    posthog_project_id = models.CharField(max_length=32, blank=True)
    # Secrets: encrypted here. An operator (never a tenant, see TeamConnectionSerializer) may store "env:NAME" to read
    # one from the environment instead, for a NAME on LIPSERVICE_SECRET_ENV_NAMES only.
    posthog_personal_api_key_encrypted = models.TextField(blank=True, editable=False)
    posthog_project_token = models.CharField(max_length=128, blank=True, help_text="phc_… token; public by design.")
    clickhouse_url_encrypted = models.TextField(blank=True, editable=False)
    clickhouse_team_id = models.IntegerField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Per-team options: prices, targets.")
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The host as loaded and whether a new personal key was given since: see save().
    _loaded_host: str | None = None
    _key_set: bool = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A personal key belongs to the host it was given for: pointing the team at another host without giving a new
        # key forgets the stored one, so a write-only key cannot be read back by sending it elsewhere.
        loaded = self._loaded_host
        if loaded is not None and self.posthog_host != loaded and not self._key_set:
            self.posthog_personal_api_key_encrypted = ""
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "posthog_personal_api_key_encrypted"}
        super().save(*args, **kwargs)
        self._loaded_host = self.posthog_host
        self._key_set = False

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Team:
        instance = super().from_db(db, field_names, values)
        instance._loaded_host = instance.__dict__.get("posthog_host")
        return instance

    @staticmethod
    def _read_secret(stored: str) -> str:
        value = crypto.decrypt(stored)
        if value.startswith("env:"):
            return secret_from_environment(value[4:])
        return value

    @property
    def posthog_personal_api_key(self) -> str:
        return self._read_secret(self.posthog_personal_api_key_encrypted)

    @posthog_personal_api_key.setter
    def posthog_personal_api_key(self, value: str) -> None:
        self.posthog_personal_api_key_encrypted = crypto.encrypt(value)
        self._key_set = True

    @property
    def clickhouse_url(self) -> str:
        return self._read_secret(self.clickhouse_url_encrypted)

    @clickhouse_url.setter
    def clickhouse_url(self, value: str) -> None:
        self.clickhouse_url_encrypted = crypto.encrypt(value)

    def masked_secret(self, field: str) -> str:
        try:
            stored = crypto.decrypt(getattr(self, f"{field}_encrypted"))
        except crypto.SecretUnreadable:
            return "unreadable with the configured keys; enter it again"
        return stored if stored.startswith("env:") else crypto.mask(stored)


# Never readable through "env:", whatever the allowlist says: these unlock the server itself.
_NEVER_FROM_ENV = frozenset({"DJANGO_SECRET_KEY", "LIPSERVICE_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"})


def secret_from_environment(name: str) -> str:
    """The value of an operator-allowed environment variable; "" for any other name."""
    if name in _NEVER_FROM_ENV or name not in settings.LIPSERVICE_SECRET_ENV_NAMES:
        return ""
    return os.environ.get(name, "")


class TeamMembership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        MEMBER = "member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


def hash_api_key(raw: str) -> str:
    # Keys carry 240 bits of randomness, so a fast hash is safe and keeps lookups O(1) per request.
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(30)


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        # What every app instance holds: read its team's policies and post stats, nothing else.
        SDK = "sdk"
        # Automation acting for the team: the rest of the API (publishing still passes the checker).
        MANAGEMENT = "management"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.SDK)
    prefix = models.CharField(max_length=API_KEY_VISIBLE_CHARS, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


@receiver(post_save, sender=ApiKey)
def _forget_cached_key(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    from lipservice.services import api_key_forget

    api_key_forget(key=instance)


@receiver(post_delete, sender=ApiKey)
def _bury_deleted_key(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    from lipservice.services import api_key_forget

    api_key_forget(key=instance, revoked=True)
