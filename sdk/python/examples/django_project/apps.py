"""Django: start LipService from AppConfig.ready(), after Django has applied settings.LOGGING.

Add "observability.apps.ObservabilityConfig" (this file, as observability/apps.py) to INSTALLED_APPS, after the
apps whose loggers you configure, and set the environment variables below. Under gunicorn with preload_app = True the
master process runs ready() once; every forked worker restarts the SDK's threads on its own.
"""

from __future__ import annotations

import os

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from lipservice_sdk import configure_adaptive_logging

        configure_adaptive_logging(
            os.environ.get("SERVICE_NAME", "django-web"),
            lipservice_url=os.environ.get("LIPSERVICE_URL"),  # e.g. https://lipservice.example.com
            api_key=os.environ.get("LIPSERVICE_API_KEY"),
            posthog_token=os.environ.get("POSTHOG_PROJECT_TOKEN"),  # phc_...
            posthog_host=os.environ.get("POSTHOG_HOST", "https://us.i.posthog.com"),
            # The root logger, plus the loggers to which Django's default LOGGING gives handlers of their own.
            # A record that passes several of them is still decided and counted once.
            logger=[None, "django", "django.server"],
        )
