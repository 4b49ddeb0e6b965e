"""Insights settings with their defaults; the lead may add them to lipservice/settings.py (env-driven) by name."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def pagerduty_events_url() -> str:
    return str(getattr(settings, "LIPSERVICE_PAGERDUTY_EVENTS_URL", "") or PAGERDUTY_EVENTS_URL)


def default_price_table() -> Any:
    """`LIPSERVICE_PRICE_TABLE` (an object or its JSON) if set, else one flat tier at `LIPSERVICE_PRICE_PER_GB`."""
    table = getattr(settings, "LIPSERVICE_PRICE_TABLE", None)
    if isinstance(table, str) and table.strip():
        return json.loads(table)  # the raw JSON of an environment variable
    if table:
        return table
    return {"currency": "USD", "tiers": [{"up_to_gb": None, "price_per_gb": settings.LIPSERVICE_PRICE_PER_GB}]}
