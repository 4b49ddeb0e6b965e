"""Admin list views for services, patterns and analysis runs."""

from __future__ import annotations

from django.contrib import admin

from patterns.models import AnalysisRun, Pattern, PatternWindow, Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "team", "source_kind", "analysis_watermark", "created_at"]
    list_filter = ["team", "source_kind"]
    search_fields = ["name", "team__name"]


@admin.register(Pattern)
class PatternAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["pattern_id", "service", "short_template", "count", "bytes", "last_seen"]
    list_filter = ["service__team", "service"]
    search_fields = ["pattern_id", "template"]
    readonly_fields = ["pattern_id", "signatures", "examples", "first_seen", "last_seen", "created_at", "updated_at"]

    @admin.display(description="template")
    def short_template(self, obj: Pattern) -> str:
        return obj.template if len(obj.template) <= 100 else obj.template[:99] + "…"


@admin.register(PatternWindow)
class PatternWindowAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["pattern", "service", "bucket_start", "count", "bytes", "errors", "sdk_seen", "sdk_kept"]
    list_filter = ["service"]
    date_hierarchy = "bucket_start"
    raw_id_fields = ["pattern"]


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "id",
        "service",
        "status",
        "method",
        "window_start",
        "window_end",
        "lines_read",
        "patterns_total",
        "patterns_new",
        "created_at",
    ]
    list_filter = ["status", "service"]
    readonly_fields = [f.name for f in AnalysisRun._meta.fields]
