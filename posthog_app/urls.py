"""Public PostHog-app routes (included under /posthog-app/ by the project urls)."""

from __future__ import annotations

from django.urls import path

from posthog_app.views import app_manifest, oauth_client

app_name = "posthog_app"
urlpatterns = [
    path("oauth-client.json", oauth_client, name="oauth-client"),
    path("manifest.json", app_manifest, name="manifest"),
]
