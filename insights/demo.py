"""Demo only: the demo team's price table and its incidents restated in production units.

The raw lines are a sample of a small production team's traffic, generated only at the size mining and replay need;
the hourly counts they produce are scaled to production rates (`patterns.services.pattern_windows_scale`), so the
cost pages show the tens of GB a month such a team sends, priced by a tiered $/GB table; incidents found on the
sample's own counts are restated in the same units here.
"""

from __future__ import annotations

from django.db.models import F

from insights.models import Anomaly, Incident
from insights.services.explanations import incident_explain

# Tiers of the kind log vendors publish per GB ingested (cheaper per GB as volume grows); 30 days of retention included.
DEMO_PRICE_TABLE = {
    "currency": "USD",
    "tiers": [
        {"up_to_gb": 50, "price_per_gb": 0.50},
        {"up_to_gb": 500, "price_per_gb": 0.35},
        {"up_to_gb": None, "price_per_gb": 0.20},
    ],
    "retention": {"days": 30, "included_days": 30},
}


def demo_scale_incidents(*, incidents: list[Incident], factor: int) -> None:
    """The detector ran on the sample's counts; its anomalies and explanations are restated in production units."""
    if factor <= 1:
        return
    for incident in incidents:
        Anomaly.objects.filter(incident=incident).update(
            observed=F("observed") * factor, expected=F("expected") * factor
        )
        explanation = incident_explain(incident=incident, use_llm=False).as_dict()
        incident.explanation = explanation
        incident.title = str(explanation["summary"])[:500]
        incident.save(update_fields=["explanation", "title", "updated_at"])
