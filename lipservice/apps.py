"""Tenancy: teams, their members and API keys."""

from __future__ import annotations

from django.apps import AppConfig


class LipServiceConfig(AppConfig):
    name = "lipservice"
    verbose_name = "Tenancy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lipservice.logs import configure_self_logging
        from lipservice.telemetry import configure_tracing

        configure_tracing()
        configure_self_logging()
