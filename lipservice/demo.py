"""Demo only: the SDK's own decision run over the demo's recent history, counted as SDK stats would be; and the
demo's production volume.

The demo has no running application, so `load_demo` replays its last hours through `lipservice_sdk.decision` with
the active policy and ingests the per-pattern seen/kept counts, once per policy version (idempotent by batch id).
The demo's policy counts as published when that replayed period starts, so savings since publishing can be read.

The raw lines are a sample of a small production team's traffic, generated only at the size mining and replay need;
the hourly counts they produce are then scaled to production rates (`demo_scale_windows`), so the cost pages show the
tens of GB a month such a team sends, priced by a tiered $/GB table.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import F, Sum
from lipservice_sdk.decision import Decider
from lipservice_sdk.policy import policy_from_dict
from tqdm import tqdm

from insights.models import Anomaly, Incident
from insights.services import incident_explain
from patterns.connections import source_for_service
from patterns.models import Pattern, PatternWindow, Service
from patterns.services import StatsEntry, pattern_stats_ingest
from policies.models import PolicyVersion
from policies.selectors import policy_active

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


def demo_scale_windows(
    *,
    service: Service,
    factor: int,
    analysed: tuple[datetime, datetime] | None,
    replayed: tuple[datetime, datetime] | None,
) -> int:
    """Multiply the counts of the hours this run wrote (analysed: count, bytes, errors; replayed: the SDK counts) by
    `factor`, the production lines each generated line stands for. Each range is scaled once, by the run that
    wrote it, so running the demo again does not compound. Returns how many windows changed."""
    changed = 0
    if factor <= 1:
        return 0
    if analysed is not None:
        start, end = analysed
        changed += PatternWindow.objects.filter(service=service, bucket_start__gte=start, bucket_start__lt=end).update(
            count=F("count") * factor, bytes=F("bytes") * factor, errors=F("errors") * factor
        )
        # Pattern totals follow their windows (they are what the pattern tables rank by).
        totals = (
            PatternWindow.objects.filter(service=service).values("pattern_id").annotate(n=Sum("count"), b=Sum("bytes"))
        )
        for row in totals:
            Pattern.objects.filter(pk=row["pattern_id"]).update(count=row["n"] or 0, bytes=row["b"] or 0)
    if replayed is not None:
        start, end = replayed
        changed += PatternWindow.objects.filter(service=service, bucket_start__gte=start, bucket_start__lt=end).update(
            sdk_seen=F("sdk_seen") * factor,
            sdk_kept=F("sdk_kept") * factor,
            sdk_bytes_seen=F("sdk_bytes_seen") * factor,
            sdk_bytes_kept=F("sdk_bytes_kept") * factor,
        )
    return changed


def demo_sdk_replay(*, service: Service, hours: int = 72, seed: int = 7, progress: bool = False) -> int:
    """Returns how many lines were replayed (0 when the service has no active policy or was replayed already)."""
    version = policy_active(service=service)
    if version is None or service.analysis_watermark is None:
        return 0
    decider = Decider(policy_from_dict(version.document), rng=random.Random(seed))
    end = service.analysis_watermark
    PolicyVersion.objects.filter(pk=version.pk).update(published_at=end - timedelta(hours=hours))
    counts: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    lines = 0
    records = source_for_service(service).fetch_logs(service=service.name, start=end - timedelta(hours=hours), end=end)
    for record in tqdm(records, desc=f"{service.name}: replay", unit=" lines", unit_scale=True, disable=not progress):
        decision = decider.decide(
            message=record.body,
            severity=record.severity,
            timestamp=record.timestamp.timestamp(),
            trace_id=record.trace_id,
            attributes=record.attributes,
        )
        minute = record.timestamp.replace(second=0, microsecond=0, tzinfo=UTC)
        acc = counts[(decision.pattern_id, minute)]
        size = record.bytes or len(record.body.encode())
        acc[0] += 1
        acc[1] += int(decision.keep)
        acc[2] += size
        acc[3] += size if decision.keep else 0
        lines += 1
    entries = [
        StatsEntry(pattern=pid[:32], minute=minute, seen=s, kept=k, bytes_seen=b, bytes_kept=bk)
        for (pid, minute), (s, k, b, bk) in counts.items()
    ]
    result = pattern_stats_ingest(
        service=service, batch_id=f"demo-replay:v{version.number}:{hours}h", entries=entries, sdk="demo-replay"
    )
    return 0 if result.duplicate else lines


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
