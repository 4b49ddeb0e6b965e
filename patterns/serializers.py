"""Explicit wire shapes for the patterns API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patterns.models import AnalysisRun, Pattern, PatternWindow, Service


class ServiceOutputSerializer(serializers.ModelSerializer[Service]):
    pattern_count = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = ["name", "description", "source_kind", "analysis_watermark", "created_at", "pattern_count"]

    def get_pattern_count(self, obj: Service) -> int:
        return obj.patterns.count()


MAX_STATS_ENTRIES = 20_000
# A trillion lines (or bytes) in one minute of one pattern is beyond any real fleet; larger numbers are forged.
MAX_STATS_FIGURE = 10**12
# SDK clocks drift; a minute further ahead than this is refused rather than stored as a future spike.
MAX_STATS_SKEW = timedelta(minutes=5)


def _figure(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_STATS_FIGURE, **kwargs)


class StatsEntrySerializer(serializers.Serializer):  # type: ignore[type-arg]
    pattern = serializers.CharField(max_length=32)
    minute = serializers.DateTimeField()
    seen = _figure()
    kept = _figure()
    bytes_seen = _figure(default=0)
    bytes_kept = _figure(default=0)

    def validate_minute(self, value: datetime) -> datetime:
        now = timezone.now()
        oldest = now - timedelta(days=settings.LIPSERVICE_WINDOW_RETENTION_DAYS)
        if value < oldest:
            raise serializers.ValidationError(
                f"older than the {settings.LIPSERVICE_WINDOW_RETENTION_DAYS}-day retention window"
            )
        if value > now + MAX_STATS_SKEW:
            raise serializers.ValidationError(f"more than {MAX_STATS_SKEW.seconds // 60} minutes in the future")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kept"] > attrs["seen"]:
            raise serializers.ValidationError({"kept": "cannot exceed seen"})
        if attrs["bytes_kept"] > attrs["bytes_seen"]:
            raise serializers.ValidationError({"bytes_kept": "cannot exceed bytes_seen"})
        return attrs


class SdkInfoSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=50, required=False, default="")
    version = serializers.CharField(max_length=40, required=False, default="")


class DeliveryLossesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Kept lines the SDK could not deliver to PostHog since its previous batch, under the SDK's counter names."""

    errors_lost = _figure(
        default=0,
        help_text="Kept ERROR/FATAL lines given up on: the spool was full, PostHog refused them for good, or they "
        "were still waiting when the process stopped.",
    )
    shed_errors = _figure(default=0, help_text="Kept ERROR/FATAL lines refused because the export queue was full.")
    export_failed = _figure(default=0, help_text="Kept lines below ERROR whose export failed after its retries.")
    shed = _figure(default=0, help_text="Kept lines below ERROR refused because the export queue was full.")
    spool_corrupt = _figure(
        default=0, help_text="Spool files of undelivered errors found damaged and discarded (their errors are lost)."
    )


class StatsBatchInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    batch_id = serializers.CharField(max_length=64, help_text="Unique per batch; a retried batch is counted once.")
    service = serializers.CharField(max_length=200)
    sdk = SdkInfoSerializer(required=False)
    stats = StatsEntrySerializer(many=True, max_length=MAX_STATS_ENTRIES, allow_empty=True)  # type: ignore[call-arg]
    losses = DeliveryLossesSerializer(
        required=False,
        help_text="Delivery losses counted since the previous batch; each missing figure is 0 (older SDKs send none).",
    )


class StatsBatchOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    accepted = serializers.IntegerField()
    duplicate = serializers.BooleanField()


class PatternOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    id = serializers.CharField(source="pattern_id")
    share_of_bytes = serializers.SerializerMethodField()
    rate = serializers.SerializerMethodField(help_text="Sampling rate in the active policy; null when none covers it.")
    reason = serializers.SerializerMethodField()

    class Meta:
        model = Pattern
        fields = [
            "id",
            "template",
            "count",
            "bytes",
            "share_of_bytes",
            "severity_counts",
            "examples",
            "first_seen",
            "last_seen",
            "rate",
            "reason",
        ]

    def _rule(self, obj: Pattern) -> dict[str, Any] | None:
        rules: dict[str, dict[str, Any]] = self.context.get("rules", {})
        return rules.get(obj.pattern_id)

    def get_share_of_bytes(self, obj: Pattern) -> float:
        total = self.context.get("total_bytes") or 0
        return round(obj.bytes / total, 6) if total else 0.0

    def get_rate(self, obj: Pattern) -> float | None:
        rule = self._rule(obj)
        return float(rule["rate"]) if rule else None

    def get_reason(self, obj: Pattern) -> str:
        rule = self._rule(obj)
        return str(rule.get("reason", "")) if rule else ""


class PatternWindowOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = PatternWindow
        fields = [
            "bucket_start",
            "bucket_seconds",
            "count",
            "bytes",
            "errors",
            "sdk_seen",
            "sdk_kept",
            "sdk_bytes_seen",
            "sdk_bytes_kept",
        ]


class PatternDetailOutputSerializer(PatternOutputSerializer):
    signatures = serializers.ListField(child=serializers.CharField())
    windows = serializers.SerializerMethodField()
    similar = serializers.SerializerMethodField()

    class Meta(PatternOutputSerializer.Meta):
        fields = [*PatternOutputSerializer.Meta.fields, "signatures", "windows", "similar"]

    @extend_schema_field(PatternWindowOutputSerializer(many=True))
    def get_windows(self, obj: Pattern) -> list[dict[str, Any]]:
        windows = self.context.get("windows", [])
        return list(PatternWindowOutputSerializer(windows, many=True).data)

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_similar(self, obj: Pattern) -> list[dict[str, Any]]:
        return list(self.context.get("similar", []))


MAX_ANALYZE_LINES = 10_000


class AnalyzeLineSerializer(serializers.Serializer):  # type: ignore[type-arg]
    message = serializers.CharField(max_length=65_536, trim_whitespace=False)
    severity = serializers.CharField(max_length=20, required=False, allow_blank=True)
    timestamp = serializers.DateTimeField(required=False)
    trace_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class AnalyzeInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    service = serializers.CharField(max_length=200)
    lines = AnalyzeLineSerializer(many=True, required=False, max_length=MAX_ANALYZE_LINES)  # type: ignore[call-arg]
    start = serializers.DateTimeField(required=False, help_text="With `end`: analyse this window of the source.")
    end = serializers.DateTimeField(required=False)
    method = serializers.ChoiceField(choices=["fetch", "pushdown"], default="fetch")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_lines = bool(attrs.get("lines"))
        has_window = "start" in attrs or "end" in attrs
        if has_lines == has_window:
            raise serializers.ValidationError("Give either `lines` or a source window (`start` and `end`).")
        if has_window:
            if "start" not in attrs or "end" not in attrs:
                raise serializers.ValidationError("A source window needs both `start` and `end`.")
            if attrs["end"] <= attrs["start"]:
                raise serializers.ValidationError("`end` must be after `start`.")
        return attrs


class AnalysisRunOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    service = serializers.CharField(source="service.name")

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "service",
            "status",
            "method",
            "source_kind",
            "window_start",
            "window_end",
            "lines_read",
            "bytes_read",
            "unparsed_lines",
            "patterns_total",
            "patterns_new",
            "timings",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
