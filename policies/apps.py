"""App config for policies."""

from __future__ import annotations

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lipservice.errors import refused_policy_error_register
        from lipservice.metrics import metrics_refresher_register
        from policies.engine.checker import PolicyInvariantError
        from policies.metrics import policy_savings_gauges_refresh

        refused_policy_error_register(PolicyInvariantError)
        metrics_refresher_register(policy_savings_gauges_refresh)
