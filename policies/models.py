"""Immutable policy versions per service and the audit trail of every change."""

from __future__ import annotations

from django.db import models

from lipservice import crypto
from lipservice.models import Team
from patterns.models import Service


class PolicyVersion(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed"
        ACTIVE = "active"
        SUPERSEDED = "superseded"
        REJECTED = "rejected"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="policy_versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    document = models.JSONField()
    etag = models.CharField(max_length=64)
    generated_by = models.CharField(max_length=200)
    reasoning = models.TextField(blank=True)
    fallback_reason = models.TextField(blank=True)
    simulation = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "-number"]
        constraints = [models.UniqueConstraint(fields=["service", "number"], name="unique_policy_version")]

    def __str__(self) -> str:
        return f"{self.service} v{self.number} ({self.status})"


class AuditEntry(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="audit_entries")
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64)
    actor = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class Webhook(models.Model):
    """A team's endpoint notified, with an HMAC-SHA256 signature, when a policy is published or rolled back."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(default=list, blank=True, help_text="Empty means every event.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook.url} ({self.status})"
