"""API routes of the policies app (under /api/v1/, after the patterns app's fixed `patterns/...` routes)."""

from __future__ import annotations

from django.urls import path

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

urlpatterns = [
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
