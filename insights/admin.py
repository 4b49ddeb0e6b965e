"""Admin list views for anomalies, incidents, alert channels and the alert delivery log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from insights.models import AlertChannel, AlertDelivery, Anomaly, Incident
from lipservice.admin_scope import TeamScopedAdmin


@admin.register(Anomaly)
class AnomalyAdmin(TeamScopedAdmin):
    list_display = ["window_start", "service", "kind", "severity", "pattern", "observed", "expected", "confidence"]
    list_filter = ["kind", "severity", "service"]
    date_hierarchy = "window_start"
    raw_id_fields = ["pattern", "incident"]


@admin.register(Incident)
class IncidentAdmin(TeamScopedAdmin):
    list_display = ["window_start", "window_end", "service", "severity", "status", "title"]
    list_filter = ["severity", "status", "team", "service"]
    search_fields = ["dedup_key", "title"]
    date_hierarchy = "window_start"
    readonly_fields = ["dedup_key", "explanation", "created_at", "updated_at"]


class AlertChannelForm(forms.ModelForm):  # type: ignore[type-arg]
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="PagerDuty routing key or webhook signing secret; leave empty to keep the current one.",
    )

    class Meta:
        model = AlertChannel
        fields = [
            "team",
            "name",
            "kind",
            "url",
            "min_severity",
            "services",
            "cooldown_seconds",
            "quiet_hours_start",
            "quiet_hours_end",
            "timezone",
            "critical_bypasses_quiet_hours",
            "active",
        ]


@admin.register(AlertChannel)
class AlertChannelAdmin(TeamScopedAdmin):
    form = AlertChannelForm
    list_display = ["name", "team", "kind", "min_severity", "cooldown_seconds", "quiet_hours", "active"]
    list_filter = ["kind", "active", "team"]
    search_fields = ["name", "team__name"]

    @admin.display(description="quiet hours")
    def quiet_hours(self, obj: AlertChannel) -> str:
        if obj.quiet_hours_start is None or obj.quiet_hours_end is None:
            return "-"
        return f"{obj.quiet_hours_start:%H:%M}-{obj.quiet_hours_end:%H:%M} {obj.timezone}"

    def save_model(self, request: HttpRequest, obj: AlertChannel, form: Any, change: bool) -> None:
        if form.cleaned_data.get("secret"):
            obj.secret = form.cleaned_data["secret"]
        super().save_model(request, obj, form, change)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(TeamScopedAdmin):
    list_display = ["created_at", "channel", "incident", "severity", "status", "reason", "attempts", "response_status"]
    list_filter = ["status", "severity", "channel__kind", "channel"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "channel",
        "incident",
        "severity",
        "status",
        "reason",
        "payload",
        "attempts",
        "response_status",
        "error",
        "created_at",
        "delivered_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
