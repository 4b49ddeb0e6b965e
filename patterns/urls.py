"""API routes of the patterns app (under /api/v1/): services, SDK stats ingest, analysis runs, connection probe."""

from __future__ import annotations

from django.urls import path

from patterns.views import (
    AnalysisRunView,
    AnalyzeView,
    ServiceDetailView,
    ServiceListView,
    StatsIngestView,
    TeamConnectionTestView,
)

urlpatterns = [
    path("team/test-connection", TeamConnectionTestView.as_view(), name="team-test-connection"),
    path("services", ServiceListView.as_view(), name="service-list"),
    path("services/<str:name>", ServiceDetailView.as_view(), name="service-detail"),
    path("patterns/stats", StatsIngestView.as_view(), name="pattern-stats"),
    path("patterns/analyze", AnalyzeView.as_view(), name="pattern-analyze"),
    path("patterns/runs/<int:run_id>", AnalysisRunView.as_view(), name="analysis-run"),
]
