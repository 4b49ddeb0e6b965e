"""URL routes: the versioned API, its schema and docs, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from lipservice.views import HealthView, ReadyView, TeamView, metrics_view

handler404 = "lipservice.errors.page_not_found"
handler500 = "lipservice.errors.server_error"

admin.site.site_header = "LipService"
admin.site.site_title = "LipService admin"

api_v1 = [
    path("health", HealthView.as_view(), name="health"),
    path("ready", ReadyView.as_view(), name="ready"),
    path("team", TeamView.as_view(), name="team"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    path("api/v1/", include("patterns.urls")),
    path("api/v1/", include("policies.urls")),
    path("api/v1/", include("insights.urls")),
    path("dashboard/", include("insights.dashboard.urls")),
    path("posthog-app/", include("posthog_app.urls")),
]
