"""API routes of the insights app (included under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from insights.views import PricingView, ServiceInsightsView, TeamInsightsView

urlpatterns = [
    path("insights", TeamInsightsView.as_view(), name="insights-team"),
    path("insights/<str:service>", ServiceInsightsView.as_view(), name="insights-service"),
    path("pricing", PricingView.as_view(), name="insights-pricing"),
]
