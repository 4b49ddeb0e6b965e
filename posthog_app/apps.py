"""The PostHog app: OAuth connection of a team to its PostHog project, onboarding, and what is installed there."""

from __future__ import annotations

from django.apps import AppConfig


class PostHogAppConfig(AppConfig):
    name = "posthog_app"
    label = "posthog_app"
    verbose_name = "PostHog connection"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patterns.connections import posthog_credential_provider_register
        from posthog_app.tokens import oauth_credentials_for_team

        posthog_credential_provider_register(oauth_credentials_for_team)
