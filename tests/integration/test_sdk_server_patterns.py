"""The SDK names a line's pattern as the server does: every Loghub dev system and demo service is mined and given a
rule-based policy by the server, and the SDK, reading the policy JSON the server hands out, puts each line in the
pattern the server put it in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lipservice_sdk.decision import Decider
from lipservice_sdk.policy import PolicyDocument, policy_from_json
from lipservice_sdk.signature import template_key

from lipservice.models import Team
from patterns.analysis import analysis_execute_records, analysis_run_create, load_miner
from patterns.demo import DEMO_SERVICES, write_demo_file
from patterns.models import AnalysisRun, Pattern, Service
from patterns.sources import FileLogSource, FileSourceConfig, SourceRecord
from policies.exporters import policy_to_sdk_json
from policies.services import policy_propose
from tests.patterns.engine.loghub import DATASETS, SYSTEMS, load_system

AGREEMENT = 0.99
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_DAYS = 2
DEMO_SCALE = 0.05

CASES = [pytest.param("loghub", name, id=f"loghub-{name}") for name in SYSTEMS] + [
    pytest.param("demo", name, id=f"demo-{name}") for name in DEMO_SERVICES
]


def _source(kind: str, name: str, tmp_path: Path) -> FileLogSource:
    """The file source the server reads: Loghub text split by its format header, or the demo's JSON lines."""
    if kind == "loghub":
        if not DATASETS.exists():
            pytest.skip("Loghub dev datasets are not on this machine")
        system = load_system(name)
        config = FileSourceConfig(
            paths=(str(system.log_path),), format="text", loghub_format=system.log_format, default_service=name
        )
    else:
        path = tmp_path / f"{name}.jsonl.gz"
        write_demo_file(path=path, service=name, end=DEMO_END, days=DEMO_DAYS, scale=DEMO_SCALE, seed=7)
        config = FileSourceConfig(paths=(str(path),), format="jsonl", default_service=name)
    return FileLogSource(config)


def _served_policy(service: Service, records: list[SourceRecord]) -> PolicyDocument:
    """Analyse the records, let the server write its policy, and read back the JSON an SDK is given."""
    run = analysis_run_create(service=service, start=None, end=None, method="records", source_kind="file")
    assert analysis_execute_records(run_id=run.pk, records=records).status == AnalysisRun.Status.SUCCEEDED
    version = policy_propose(service=service)
    assert version is not None
    assert version.generated_by == "rules"
    return policy_from_json(policy_to_sdk_json(version.document))


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_sdk_assigns_each_line_the_servers_pattern(kind: str, name: str, team: Team, tmp_path: Path) -> None:
    records = list(_source(kind, name, tmp_path).read_all())
    assert len(records) >= 2000
    service = Service.objects.create(team=team, name=name, target_reduction=0.7)
    policy = _served_policy(service, records)
    service.refresh_from_db()

    miner = load_miner(service)
    keys = [template_key(record.body) for record in records]
    server = [miner.pattern_of_key(key) or miner.match_key(key) for key in keys]
    stored = dict(Pattern.objects.filter(service=service).values_list("pattern_id", "count"))
    assert Counter(server) == stored  # the per-line reading is the one the server counted
    assert {rule.id for rule in policy.patterns} == set(stored)

    decider = Decider(policy)
    sdk = [
        decider.decide(message=r.body, severity=r.severity, timestamp=r.timestamp.timestamp()).pattern_id
        for r in records
    ]
    misses = Counter(
        (template_key(r.body), server_id, sdk_id)
        for r, server_id, sdk_id in zip(records, server, sdk, strict=True)
        if server_id != sdk_id
    )
    agreement = 1.0 - sum(misses.values()) / len(records)
    print(f"{kind} {name}: {agreement:.4f} of {len(records)} lines in the server's pattern")
    assert agreement >= AGREEMENT, f"{kind} {name}: {agreement:.4f}; most frequent misses {misses.most_common(5)}"
