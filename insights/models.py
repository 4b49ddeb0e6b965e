"""Detected anomalies, the incidents they are grouped into, alert channels and every alert delivery."""

from __future__ import annotations

from django.db import models

from insights.conf import pagerduty_events_url
from lipservice import crypto
from lipservice.models import Team
from patterns.models import Pattern, Service


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Incident(models.Model):
    """Related anomalies of one service (overlapping windows), alerted once under one dedup key."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="incidents")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="incidents")
    dedup_key = models.CharField(max_length=200, unique=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    title = models.CharField(max_length=500, blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-window_start"]
        indexes = [models.Index(fields=["service", "-window_end"], name="incident_service_end")]

    def __str__(self) -> str:
        return f"{self.severity} incident in {self.service} at {self.window_start:%Y-%m-%d %H:%M}"


class Anomaly(models.Model):
    class Kind(models.TextChoices):
        SPIKE = "spike"
        DROP = "drop"
        NEW_PATTERN = "new_pattern"
        ERROR_RATE = "error_rate"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="anomalies")
    pattern = models.ForeignKey(Pattern, null=True, blank=True, on_delete=models.SET_NULL, related_name="anomalies")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="anomalies")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    observed = models.FloatField(default=0)
    expected = models.FloatField(default=0)
    score = models.FloatField(default=0)
    confidence = models.FloatField(default=0)
    explanation = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-window_start"]
        verbose_name_plural = "anomalies"
        constraints = [
            models.UniqueConstraint(fields=["service", "pattern", "kind", "window_start"], name="unique_anomaly"),
            # NULLs are distinct in a unique index, so service-wide anomalies need their own.
            models.UniqueConstraint(
                fields=["service", "kind", "window_start"],
                condition=models.Q(pattern__isnull=True),
                name="unique_service_anomaly",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} in {self.service} at {self.window_start:%Y-%m-%d %H:%M}"


class AlertChannel(models.Model):
    """Where a team's incidents go. Quiet hours are local to `timezone`; critical may bypass them."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack incoming webhook"
        PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
        WEBHOOK = "webhook", "Signed webhook"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(
        max_length=500, blank=True, help_text="Slack webhook URL, webhook URL, or a PagerDuty events URL override."
    )
    # PagerDuty routing key, or the webhook signing secret.
    secret_encrypted = models.TextField(blank=True, editable=False)
    min_severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    services = models.JSONField(default=list, blank=True, help_text="Service names; empty means every service.")
    cooldown_seconds = models.PositiveIntegerField(default=1800)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    critical_bypasses_quiet_hours = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_alert_channel_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    @property
    def target_url(self) -> str:
        if self.kind == self.Kind.PAGERDUTY:
            return self.url or pagerduty_events_url()
        return self.url


class AlertDelivery(models.Model):
    """One alert for one incident on one channel: sent, failed after retries, or suppressed (and why)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"
        SUPPRESSED = "suppressed"

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deliveries")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was suppressed.")
    payload = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "alert deliveries"
        indexes = [models.Index(fields=["channel", "-created_at"], name="alert_delivery_channel_time")]

    def __str__(self) -> str:
        return f"{self.incident} → {self.channel} ({self.status})"
