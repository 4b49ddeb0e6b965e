"""Demo only: the SDK's own decision run over the demo's recent history, counted as SDK stats would be.

The demo has no running application, so `load_demo` replays its last hours through `lipservice_sdk.decision` with
the active policy and ingests the per-pattern seen/kept counts, once per policy version (idempotent by batch id).
The demo's policy counts as published when that replayed period starts, so savings since publishing can be read.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from lipservice_sdk.decision import Decider
from lipservice_sdk.policy import policy_from_dict
from tqdm import tqdm

from patterns.connections import source_for_service
from patterns.models import Service
from patterns.services import StatsEntry, pattern_stats_ingest
from policies.models import PolicyVersion
from policies.selectors import policy_active


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
