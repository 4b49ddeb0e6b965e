"""Admin for teams and API keys; creating a key shows its plaintext once."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from insights.engine.pricing import PricingError, parse_pricing
from lipservice.admin_scope import SuperuserOnlyAdmin, TeamScopedAdmin, TeamScopedInline, visible_users
from lipservice.models import ApiKey, Team, TeamMembership
from lipservice.services import api_key_create, api_key_revoke
from patterns.connections import team_connection_test


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


class MembershipInline(TeamScopedInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(TeamScopedAdmin):
    form = TeamForm
    list_display = ["name", "display_name", "posthog_host", "posthog_project_id", "service_count", "created_at"]
    search_fields = ["name", "display_name"]
    readonly_fields = ["personal_api_key_shown", "clickhouse_url_shown", "created_at"]
    inlines = [MembershipInline]
    actions = ["test_connection"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        # A new tenant is the operator's decision; team admins manage the teams they already have.
        return bool(request.user.is_superuser)

    @admin.action(description="Test the PostHog / ClickHouse connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        for team in self.writable(request, queryset):
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
class ApiKeyAdmin(TeamScopedAdmin):
    list_display = ["name", "team", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team", "scope", "revoked_at"]
    search_fields = ["name", "prefix", "team__name"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at", "created_by"]
    fields = ["team", "name", "scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A key's scope is chosen when it is made: widening a key that apps already hold would hand every copy of
        # it the management API. A different scope is a new key.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "scope" not in fields:
            fields.append("scope")
        return fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = api_key_create(team=obj.team, name=obj.name, scope=obj.scope, created_by=request.user)
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(request, f"New API key (shown once, copy it now): {raw}")

    @admin.action(description="Revoke selected keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(self.writable(request, queryset))
        for key in keys:
            api_key_revoke(key=key)
        messages.success(request, f"Revoked {len(keys)} key(s).")


User = get_user_model()
_PRIVILEGES = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions", "last_login", "date_joined")


class ScopedUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """People are listed to the members of their teams; only superusers create users or grant privileges, and a
    non-superuser edits no account but its own (a password reset elsewhere would take over that account)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return visible_users(request).order_by(*(self.ordering or ("username",)))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("No user with this id.")
        return found

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [name for name in _PRIVILEGES if name not in fields]
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = bool(super().has_change_permission(request, obj))
        return allowed and (request.user.is_superuser or obj is None or obj.pk == request.user.pk)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


def _superuser_only(model: type[Any]) -> None:
    current = type(admin.site._registry[model])
    admin.site.unregister(model)
    admin.site.register(model, type(current.__name__, (SuperuserOnlyAdmin, current), {}))


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ScopedUserAdmin)
_GLOBAL_MODELS: list[type[Any]] = [
    Group,
    *(m for m in admin.site._registry if m._meta.app_label == "django_celery_beat"),
]
for _model in _GLOBAL_MODELS:
    if admin.site.is_registered(_model):
        _superuser_only(_model)
