"""Admin views of PostHog connections and onboardings: state and timings only, never a token."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from lipservice.admin_scope import TeamScopedAdmin
from posthog_app.models import Onboarding, PostHogConnection


@admin.register(PostHogConnection)
class PostHogConnectionAdmin(TeamScopedAdmin):
    list_display = ["team", "region", "issuer", "status", "expires_at", "refreshed_at", "connected_at"]
    list_filter = ["status", "region"]
    readonly_fields = (
        "team",
        "region",
        "issuer",
        "api_host",
        "client_id",
        "scope",
        "status",
        "status_detail",
        "expires_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a connection is made through the OAuth flow, by a person who approves it at PostHog

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Onboarding)
class OnboardingAdmin(TeamScopedAdmin):
    list_display = ["team", "stage", "connect_started_at", "first_policy_at", "seconds_to_first_policy"]
    list_filter = ["stage"]
    readonly_fields = ["team", "stage", "connect_started_at", "first_policy_at", "steps", "progress", "error"]
    exclude = ["services", "started_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
