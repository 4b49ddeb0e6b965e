"""Dashboard routes (included under /dashboard/)."""

from __future__ import annotations

from django.urls import path

from insights.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("services/<str:service>/", views.service_page, name="service"),
    path("services/<str:service>/patterns/<str:pattern_id>/", views.pattern_page, name="pattern"),
    path("services/<str:service>/policy/", views.policy_editor, name="editor"),
]
