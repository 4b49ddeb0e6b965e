"""Public PostHog-app routes (included under /posthog-app/ by the project urls)."""

from __future__ import annotations

from django.urls import path

from posthog_app import connect
from posthog_app.views import app_manifest, oauth_client

app_name = "posthog_app"
urlpatterns = [
    path("oauth-client.json", oauth_client, name="oauth-client"),
    path("manifest.json", app_manifest, name="manifest"),
    path("connect/", connect.connect, name="connect"),
    path("oauth/callback", connect.oauth_callback, name="oauth-callback"),
    path("connect/projects/", connect.projects, name="projects"),
    path("disconnect/", connect.disconnect, name="disconnect"),
    path("onboarding/", connect.onboarding_page, name="onboarding"),
    path("onboarding/services/", connect.onboarding_choose, name="onboarding-choose"),
    path("onboarding/advance/", connect.onboarding_advance, name="onboarding-advance"),
    path("onboarding/status/", connect.onboarding_status, name="onboarding-status"),
    path("onboarding/retry/", connect.onboarding_retry, name="onboarding-retry"),
    path("onboarding/sdk/", connect.onboarding_sdk, name="onboarding-sdk"),
    path("onboarding/install/", connect.onboarding_install, name="onboarding-install"),
]
