"""Services, their mined patterns, per-window counts, and analysis runs."""

from __future__ import annotations

import operator
from functools import reduce

from django.db import models
from django.db.models import Q

from lipservice.models import Team


class Service(models.Model):
    class SourceKind(models.TextChoices):
        FILE = "file", "Log files"
        POSTHOG = "posthog", "PostHog Logs API"
        CLICKHOUSE = "clickhouse", "PostHog ClickHouse"
        SDK = "sdk", "SDK counts only"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices, default=SourceKind.SDK)
    source_config = models.JSONField(default=dict, blank=True)
    analysis_watermark = models.DateTimeField(null=True, blank=True, help_text="Logs before this are analysed.")
    miner_state = models.JSONField(default=dict, blank=True, editable=False)
    auto_publish = models.BooleanField(
        default=False, help_text="Publish proposals automatically when their simulation passes."
    )
    target_reduction = models.FloatField(default=0.7, help_text="Share of bytes the generated policy aims to drop.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_service_per_team")]

    def __str__(self) -> str:
        return f"{self.team.name}/{self.name}"


class Pattern(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="patterns")
    pattern_id = models.CharField(max_length=32, help_text="Stable id from the miner; never changes.")
    template = models.TextField()
    signatures = models.JSONField(default=list, blank=True)
    count = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    severity_counts = models.JSONField(default=dict, blank=True)
    examples = models.JSONField(default=list, blank=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-bytes", "pattern_id"]
        constraints = [models.UniqueConstraint(fields=["service", "pattern_id"], name="unique_pattern_per_service")]
        indexes = [models.Index(fields=["service", "-bytes"], name="pattern_service_bytes")]

    def __str__(self) -> str:
        return f"{self.pattern_id}: {self.template[:80]}"

    @property
    def error_count(self) -> int:
        counts = self.severity_counts or {}
        return int(counts.get("ERROR", 0)) + int(counts.get("FATAL", 0))


class PatternWindow(models.Model):
    """Counts for one pattern in one time bucket: what analysis read, and what SDKs saw and kept."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="windows")
    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="windows")
    bucket_start = models.DateTimeField()
    bucket_seconds = models.PositiveIntegerField(default=3600)
    count = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    sdk_seen = models.BigIntegerField(default=0)
    sdk_kept = models.BigIntegerField(default=0)
    sdk_bytes_seen = models.BigIntegerField(default=0)
    sdk_bytes_kept = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["bucket_start"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "bucket_start", "bucket_seconds"], name="unique_pattern_bucket")
        ]
        indexes = [models.Index(fields=["service", "bucket_start"], name="window_service_bucket")]

    def __str__(self) -> str:
        return f"{self.pattern_id} @ {self.bucket_start:%Y-%m-%d %H:%M}"


class AnalysisRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="analysis_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source_kind = models.CharField(max_length=16, blank=True)
    method = models.CharField(max_length=32, blank=True, help_text="How logs were read: records, fetch or pushdown.")
    source_ref = models.CharField(max_length=300, blank=True, help_text="What was read, e.g. a file and its digest.")
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    lines_read = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    unparsed_lines = models.BigIntegerField(default=0)
    patterns_total = models.IntegerField(default=0)
    patterns_new = models.IntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.service} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


# The delivery losses a stats batch carries (the SDK's counter names) and the condition that it carries any.
DELIVERY_LOSS_FIELDS = ("errors_lost", "shed_errors", "export_failed", "shed", "spool_corrupt")
ANY_DELIVERY_LOSS = reduce(operator.or_, (Q(**{f"{name}__gt": 0}) for name in DELIVERY_LOSS_FIELDS))


class StatsBatch(models.Model):
    """One SDK stats batch, recorded so that a retried batch is counted once."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="stats_batches")
    batch_id = models.CharField(max_length=64)
    entries = models.PositiveIntegerField(default=0)
    sdk = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # Delivery losses the SDK counted since its previous batch, under its counter names (0 from SDKs that predate them).
    errors_lost = models.BigIntegerField(default=0, help_text="Kept ERROR/FATAL lines that could not be delivered.")
    shed_errors = models.BigIntegerField(default=0, help_text="Kept ERROR/FATAL lines refused by a full export queue.")
    export_failed = models.BigIntegerField(default=0, help_text="Kept lines below ERROR whose export failed.")
    shed = models.BigIntegerField(default=0, help_text="Kept lines below ERROR refused by a full export queue.")
    spool_corrupt = models.BigIntegerField(default=0, help_text="Spool files of undelivered errors found damaged.")

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["service", "batch_id"], name="unique_stats_batch")]
        # Most batches lose nothing: only those that did are indexed, for the sums since a policy took effect.
        indexes = [
            models.Index(
                fields=["service", "received_at"],
                name="stats_batch_losses",
                condition=ANY_DELIVERY_LOSS,
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} ({self.entries} entries)"
