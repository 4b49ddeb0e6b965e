"""URL routes: the versioned API, its schema and docs, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from lipservice.views import HealthView, ReadyView, TeamConnectionTestView, TeamView, metrics_view
from patterns.views import AnalysisRunView, AnalyzeView, ServiceDetailView, ServiceListView, StatsIngestView
from policies.views import (
    PatternDetailView,
    PatternListView,
    PolicyDiffView,
    PolicyHistoryView,
    PolicyRollbackView,
    PolicySimulateView,
    PolicyValidateView,
    PolicyVersionView,
    PolicyView,
)

handler404 = "lipservice.errors.page_not_found"
handler500 = "lipservice.errors.server_error"

admin.site.site_header = "LipService"
admin.site.site_title = "LipService admin"

api_v1 = [
    path("health", HealthView.as_view(), name="health"),
    path("ready", ReadyView.as_view(), name="ready"),
    path("team", TeamView.as_view(), name="team"),
    path("team/test-connection", TeamConnectionTestView.as_view(), name="team-test-connection"),
    path("services", ServiceListView.as_view(), name="service-list"),
    path("services/<str:name>", ServiceDetailView.as_view(), name="service-detail"),
    path("patterns/stats", StatsIngestView.as_view(), name="pattern-stats"),
    path("patterns/analyze", AnalyzeView.as_view(), name="pattern-analyze"),
    path("patterns/runs/<int:run_id>", AnalysisRunView.as_view(), name="analysis-run"),
    path("patterns/<str:service>", PatternListView.as_view(), name="pattern-list"),
    path("patterns/<str:service>/<str:pattern_id>", PatternDetailView.as_view(), name="pattern-detail"),
    path("policies/<str:service>", PolicyView.as_view(), name="policy"),
    path("policies/<str:service>/validate", PolicyValidateView.as_view(), name="policy-validate"),
    path("policies/<str:service>/simulate", PolicySimulateView.as_view(), name="policy-simulate"),
    path("policies/<str:service>/history", PolicyHistoryView.as_view(), name="policy-history"),
    path("policies/<str:service>/diff", PolicyDiffView.as_view(), name="policy-diff"),
    path("policies/<str:service>/rollback", PolicyRollbackView.as_view(), name="policy-rollback"),
    path("policies/<str:service>/versions/<int:number>", PolicyVersionView.as_view(), name="policy-version"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    path("api/v1/", include("insights.urls")),
    path("dashboard/", include("insights.dashboard.urls")),
    path("posthog-app/", include("posthog_app.urls")),
]
