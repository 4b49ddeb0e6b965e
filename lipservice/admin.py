"""Admin for teams and API keys; creating a key shows its plaintext once."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from insights.engine.pricing import PricingError, parse_pricing
from lipservice.connection import team_connection_test
from lipservice.models import ApiKey, Team, TeamMembership
from lipservice.services import api_key_create, api_key_revoke


class TeamForm(forms.ModelForm):  # type: ignore[type-arg]
    posthog_personal_api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="phx_… personal API key, or env:VARIABLE to read it from the environment. Leave blank to keep.",
    )
    clickhouse_url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="clickhouse://user:password@host:9000/db, or env:VARIABLE. Leave blank to keep.",
    )

    class Meta:
        model = Team
        fields = [
            "name",
            "display_name",
            "posthog_host",
            "posthog_ingest_host",
            "posthog_project_id",
            "posthog_project_token",
            "clickhouse_team_id",
            "config",
        ]

    def clean_config(self) -> Any:
        config = self.cleaned_data.get("config") or {}
        if not isinstance(config, dict):
            raise forms.ValidationError("config must be a JSON object")
        if "pricing" in config:
            try:
                parse_pricing(config["pricing"])
            except PricingError as exc:
                raise forms.ValidationError(f"pricing: {exc}") from exc
        return config

    def save(self, commit: bool = True) -> Team:
        team: Team = super().save(commit=False)
        for field in ("posthog_personal_api_key", "clickhouse_url"):
            value = self.cleaned_data.get(field)
            if value:
                setattr(team, field, value)
        if commit:
            team.save()
            self.save_m2m()
        return team


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = TeamForm
    list_display = ["name", "display_name", "posthog_host", "posthog_project_id", "service_count", "created_at"]
    search_fields = ["name", "display_name"]
    readonly_fields = ["personal_api_key_shown", "clickhouse_url_shown", "created_at"]
    inlines = [MembershipInline]
    actions = ["test_connection"]

    @admin.action(description="Test the PostHog / ClickHouse connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        for team in queryset:
            report = team_connection_test(team=team)
            for name, check in report.items():
                level = messages.SUCCESS if check["status"] == "ok" else messages.WARNING
                messages.add_message(request, level, f"{team.name} · {name}: {check['status']} — {check['detail']}")

    @admin.display(description="services")
    def service_count(self, obj: Team) -> int:
        return obj.services.count()

    @admin.display(description="stored personal API key")
    def personal_api_key_shown(self, obj: Team) -> str:
        return obj.masked_secret("posthog_personal_api_key") or "—"

    @admin.display(description="stored ClickHouse URL")
    def clickhouse_url_shown(self, obj: Team) -> str:
        return obj.masked_secret("clickhouse_url") or "—"


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "team", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team", "revoked_at"]
    search_fields = ["name", "prefix", "team__name"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at", "created_by"]
    fields = ["team", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = api_key_create(team=obj.team, name=obj.name, created_by=request.user)
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(request, f"New API key (shown once, copy it now): {raw}")

    @admin.action(description="Revoke selected keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")
