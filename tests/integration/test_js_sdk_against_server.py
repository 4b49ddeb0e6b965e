"""The JavaScript SDK (built in sdk/js) against a live LipService server and a local OTLP receiver that decodes real
protobuf: the policy is fetched, kept lines arrive with their attributes, every error arrives even through an outage
of the receiver, stats are counted once, and a dropped DEBUG line shortly before an ERROR in its trace arrives too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum
from lipservice_sdk.decision import PatternIndex, trace_unit
from lipservice_sdk.policy import policy_from_dict
from lipservice_sdk.signature import signature
from lipservice_sdk.stats import LOSS_COUNTERS

from lipservice.models import Team
from lipservice.services import api_key_create
from patterns.analysis import analysis_execute_records, analysis_run_create
from patterns.demo import generate
from patterns.models import PatternWindow, Service, StatsBatch
from patterns.sources import SourceRecord
from policies.services import policy_propose, policy_publish

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python" / "tests"))
from lipservice_fakes import OtlpServer, running

SDK_JS = Path(__file__).resolve().parents[2] / "sdk" / "js"
TOKEN = "phc_shop_js"
END = datetime(2026, 11, 1, tzinfo=UTC)
OUTAGE = 8


@pytest.fixture
def lines() -> list[Any]:
    return list(generate(service="checkout-api", end=END, days=2, scale=0.05, seed=11))


class FlakyOtlpServer(OtlpServer):
    """PostHog's endpoint down for its first `outage` requests (503), then up."""

    def __init__(self, token: str, outage: int) -> None:
        super().__init__(token=token)
        self.outage = outage
        self.refused = 0

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            if self.refused < self.outage:
                self.refused += 1
                return 503, {}, b""
        return super().respond(method, path, headers, body)


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (SDK_JS / "dist" / "index.js").exists():
        pytest.fail("the JavaScript SDK is not built: run `make node-sdk` (make test does)")
    return node


def _context_line(document: dict[str, Any], lines: list[Any]) -> tuple[str, str]:
    """A DEBUG body whose pattern is sampled below 1, and a fresh trace id that the policy's rate drops."""
    index = PatternIndex(policy_from_dict(document).patterns, policy=policy_from_dict(document))
    for line in lines:
        if line.severity != "DEBUG":
            continue
        rule = index.lookup(signature=signature(line.body), message=line.body)
        if rule is not None and 0 < rule.rate < 0.5:
            trace = next(f"{n:032x}" for n in range(1, 10_000) if (trace_unit(f"{n:032x}") or 0) >= rule.rate)
            return line.body, trace
    raise AssertionError("no sampled DEBUG pattern in the published policy")


@pytest.mark.services
def test_js_sdk_against_live_server_and_otlp_receiver(
    live_server: Any,
    transactional_db: None,
    lines: list[Any],
    tmp_path: Path,
) -> None:
    node = _node()
    team = Team.objects.create(name="shop")
    service = Service.objects.create(team=team, name="checkout-api", auto_publish=True, target_reduction=0.7)
    records = [
        SourceRecord(uuid=str(i), timestamp=line.timestamp, body=line.body, severity=line.severity,
                     service="checkout-api", trace_id=line.trace_id or None, bytes=len(line.body.encode()))
        for i, line in enumerate(lines)
    ]  # fmt: skip
    run = analysis_run_create(service=service, start=None, end=None, method="records")
    assert analysis_execute_records(run_id=run.pk, records=records).status == "succeeded"
    proposed = policy_propose(service=service)
    assert proposed is not None
    document = dict(proposed.document)
    document["error_context"] = {"enabled": True, "lines_per_trace": 20, "seconds": 60}
    version = policy_publish(service=service, document=document, actor="test")
    _, key = api_key_create(team=team, name="sdk")

    debug_body, context_trace = _context_line(version.document, lines)
    sent = [{"severity": line.severity, "body": line.body, "trace_id": line.trace_id or None} for line in lines]
    sent.append({"severity": "DEBUG", "body": debug_body, "trace_id": context_trace})
    sent.append({"severity": "ERROR", "body": "card network timeout for the context check", "trace_id": context_trace})
    lines_file = tmp_path / "lines.jsonl"
    lines_file.write_text("".join(json.dumps(line) + "\n" for line in sent), encoding="utf-8")

    with running(FlakyOtlpServer(token=TOKEN, outage=OUTAGE)) as otlp:
        env = {
            **os.environ,
            "SERVICE": "checkout-api",
            "LIPSERVICE_URL": live_server.url,
            "API_KEY": key,
            "POSTHOG_TOKEN": TOKEN,
            "POSTHOG_HOST": otlp.url,
            "CACHE_DIR": str(tmp_path / "cache"),
            "POLICY_VERSION": str(version.number),
            "LINES": str(lines_file),
        }
        done = subprocess.run(
            [node, str(SDK_JS / "test" / "e2e" / "drive.mjs")], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        received = list(otlp.logs)
        refused = otlp.refused

    stats = report["stats"]
    print(f"\nJS SDK: {json.dumps(stats)}")
    assert refused == OUTAGE and stats["spooled"] > 0 and stats["spool_dropped"] == 0
    assert report["flushed"] is True
    assert stats["seen"] == len(sent)
    assert stats["shed"] == 0 and stats["shed_errors"] == 0 and stats["internal_errors"] == 0

    # Every error arrives, through the outage too.
    bodies = [log.body for log in received]
    errors = [line["body"] for line in sent if line["severity"] in ("ERROR", "FATAL")]
    assert errors and set(errors) <= set(bodies)
    # Kept lines arrive with their sampling attributes, from the configured service, with the token.
    assert all(
        log.attributes["lipservice.sample_rate"] > 0 and log.attributes["lipservice.pattern"] for log in received
    )
    assert {log.resource["service.name"] for log in received} == {"checkout-api"}
    assert otlp.rejected == 0
    # The dropped DEBUG line of the failing trace arrives too, marked as error context, in its trace.
    context = [log for log in received if log.body == debug_body and log.trace_id == context_trace]
    assert len(context) == 1 and context[0].attributes["lipservice.error_context"] is True
    # Stats are counted once: every line seen once; every kept line either reached PostHog or (a non-error line
    # caught in the outage) is counted as failed, and PostHog got each line once.
    windows = PatternWindow.objects.filter(service=service).aggregate(seen=Sum("sdk_seen"), kept=Sum("sdk_kept"))
    assert windows["seen"] == len(sent)
    assert windows["kept"] == stats["kept"] + stats["context_flushed"]
    assert len(received) == stats["exported"]
    assert stats["exported"] + stats["export_failed"] == windows["kept"]
    # What did not reach PostHog was reported with the stats, once, under the Python SDK's names.
    stored = StatsBatch.objects.filter(service=service).aggregate(**{name: Sum(name) for name in LOSS_COUNTERS})
    assert {name: value or 0 for name, value in stored.items()} == {
        "errors_lost": stats["spool_dropped"], "shed_errors": stats["shed_errors"],
        "export_failed": stats["export_failed"], "shed": stats["shed"], "spool_corrupt": 0,
    }  # fmt: skip
