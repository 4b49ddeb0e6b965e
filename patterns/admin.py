"""Admin list views for services, patterns and analysis runs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from lipservice.admin_scope import TeamScopedAdmin
from patterns.connections import file_source_paths
from patterns.models import AnalysisRun, Pattern, PatternWindow, Service
from patterns.sources import SourceConfigError


class ServiceForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Service
        fields = [
            "team",
            "name",
            "description",
            "source_kind",
            "source_config",
            "analysis_watermark",
            "auto_publish",
            "target_reduction",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        kind = cleaned.get("source_kind", getattr(self.instance, "source_kind", ""))
        config = cleaned.get("source_config")
        if config is None:
            config = cleaned["source_config"] = {}
        if not isinstance(config, dict):
            self.add_error("source_config", "source_config must be a JSON object")
        elif kind == Service.SourceKind.FILE:
            try:
                file_source_paths(config, service=str(cleaned.get("name") or self.instance.name))
            except SourceConfigError as exc:
                self.add_error("source_config", str(exc))
        return cleaned


@admin.register(Service)
class ServiceAdmin(TeamScopedAdmin):
    form = ServiceForm
    list_display = ["name", "team", "source_kind", "analysis_watermark", "created_at"]
    list_filter = ["team", "source_kind"]
    search_fields = ["name", "team__name"]


@admin.register(Pattern)
class PatternAdmin(TeamScopedAdmin):
    list_display = ["pattern_id", "service", "short_template", "count", "bytes", "last_seen"]
    list_filter = ["service__team", "service"]
    search_fields = ["pattern_id", "template"]
    readonly_fields = ["pattern_id", "signatures", "examples", "first_seen", "last_seen", "created_at", "updated_at"]

    @admin.display(description="template")
    def short_template(self, obj: Pattern) -> str:
        return obj.template if len(obj.template) <= 100 else obj.template[:99] + "…"


@admin.register(PatternWindow)
class PatternWindowAdmin(TeamScopedAdmin):
    list_display = ["pattern", "service", "bucket_start", "count", "bytes", "errors", "sdk_seen", "sdk_kept"]
    list_filter = ["service"]
    date_hierarchy = "bucket_start"
    raw_id_fields = ["pattern"]


@admin.register(AnalysisRun)
class AnalysisRunAdmin(TeamScopedAdmin):
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
