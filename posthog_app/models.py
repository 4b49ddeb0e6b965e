"""A team's OAuth connection to PostHog (tokens encrypted at rest) and the timed steps of its onboarding."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from lipservice import crypto
from lipservice.models import Team


class PostHogConnection(models.Model):
    class Region(models.TextChoices):
        US = "us", "US Cloud"
        EU = "eu", "EU Cloud"
        ANY = "any", "Region-agnostic"
        SELF_HOSTED = "self_hosted", "Self-hosted"

    class Status(models.TextChoices):
        CONNECTED = "connected"
        RECONNECT = "reconnect", "Reconnect needed"

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="posthog_oauth")
    region = models.CharField(max_length=16, choices=Region.choices)
    issuer = models.URLField(help_text="The authorization server (RFC 8414 issuer).")
    client_id = models.URLField(help_text="Our client id: the URL of our client metadata document.")
    api_host = models.URLField(help_text="The PostHog app host the tokens are used against.")
    server_metadata = models.JSONField(default=dict, editable=False)
    access_token_encrypted = models.TextField(blank=True, editable=False)
    refresh_token_encrypted = models.TextField(blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=1000, blank=True)
    scoped_teams = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONNECTED)
    status_detail = models.CharField(max_length=500, blank=True)
    connected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    connected_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "PostHog OAuth connection"

    def __str__(self) -> str:
        return f"{self.team} via {self.issuer} ({self.status})"

    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_encrypted)

    @access_token.setter
    def access_token(self, value: str) -> None:
        self.access_token_encrypted = crypto.encrypt(value)

    @property
    def refresh_token(self) -> str:
        return crypto.decrypt(self.refresh_token_encrypted)

    @refresh_token.setter
    def refresh_token(self, value: str) -> None:
        self.refresh_token_encrypted = crypto.encrypt(value)

    def endpoint(self, name: str) -> str:
        value: Any = (self.server_metadata or {}).get(name, "")
        return str(value or "")


class Onboarding(models.Model):
    """From "Connect" to the first proposed policy: each step's start and duration, and the analysis progress."""

    class Stage(models.TextChoices):
        CONNECTING = "connecting"
        CHOOSING = "choosing", "Choosing services"
        ANALYSING = "analysing"
        PROPOSED = "proposed", "Policy proposed"
        FAILED = "failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="onboardings")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.CONNECTING)
    connect_started_at = models.DateTimeField()
    first_policy_at = models.DateTimeField(null=True, blank=True)
    steps = models.JSONField(default=dict, blank=True, help_text="Step name → {started_at, seconds}.")
    services = models.JSONField(default=list, blank=True, help_text="What PostHog reported, and which were chosen.")
    progress = models.JSONField(default=dict, blank=True, help_text="Per service: hours analysed, lines, proposal.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"onboarding of {self.team} ({self.stage})"

    @property
    def seconds_to_first_policy(self) -> float | None:
        if self.first_policy_at is None:
            return None
        return (self.first_policy_at - self.connect_started_at).total_seconds()
