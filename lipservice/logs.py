"""The service's own logs: structured JSON lines (LIPSERVICE_LOG_FORMAT=json), sampled by lipservice-sdk when asked."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import structlog
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from lipservice_sdk import AdaptiveLogging


def json_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
        ],
    )


def configure_self_logging() -> AdaptiveLogging | None:
    """Sample this process's own log records with lipservice-sdk when LIPSERVICE_SELF_SERVICE_NAME is set.

    Called once Django's LOGGING is in place: the SDK attaches to the root logger, so lines the policy drops leave the
    console handler too, and the kept ones carry `lipservice.pattern` and `lipservice.sample_rate` into JSON output.
    The SDK fetches the policy and posts stats on its own threads, whose log lines it never samples.
    """
    if not settings.LIPSERVICE_SELF_SERVICE_NAME:
        return None
    from lipservice_sdk import configure_adaptive_logging

    try:
        return configure_adaptive_logging(
            settings.LIPSERVICE_SELF_SERVICE_NAME,
            lipservice_url=settings.LIPSERVICE_SELF_URL,
            api_key=settings.LIPSERVICE_SELF_API_KEY,
            posthog_token=settings.LIPSERVICE_SELF_POSTHOG_TOKEN or None,
            posthog_host=settings.LIPSERVICE_SELF_POSTHOG_HOST,
            cache_dir=settings.LIPSERVICE_SELF_CACHE_DIR,
            refresh_interval=settings.LIPSERVICE_SELF_REFRESH_INTERVAL,
            stats_interval=settings.LIPSERVICE_SELF_STATS_INTERVAL,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"LIPSERVICE_SELF_* settings: {exc}") from exc
