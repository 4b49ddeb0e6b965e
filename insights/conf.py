"""Insights settings with their defaults; the lead may add them to lipservice/settings.py (env-driven) by name."""

from __future__ import annotations

from django.conf import settings

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def pagerduty_events_url() -> str:
    return str(getattr(settings, "LIPSERVICE_PAGERDUTY_EVENTS_URL", "") or PAGERDUTY_EVENTS_URL)
