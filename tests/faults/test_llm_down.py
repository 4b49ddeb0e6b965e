"""The LLM endpoint going away in the middle of policy generation, then coming back on the same address."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from lipservice.models import Team
from patterns.analysis import floor_hour
from patterns.demo import write_demo_file
from patterns.models import Service
from policies.models import AuditEntry, PolicyVersion
from policies.services import policy_propose
from policies.tasks import run_pipeline
from tests.faults.instances import free_port
from tests.policies.engine.llm_servers import Reply, anthropic_reply, openai_reply

pytestmark = pytest.mark.django_db

ANSWER = {"reasoning": "Chatter is sampled hard; every error and rare pattern is kept.", "patterns": []}


@dataclass(frozen=True)
class Vendor:
    provider: str
    model: str
    path: str
    url_suffix: str
    reply: Callable[[str], Reply]


VENDORS = [
    Vendor("openai", "gpt-4o-mini", "/v1/chat/completions", "/v1", openai_reply),
    Vendor("anthropic", "claude-haiku-4-5", "/v1/messages", "", anthropic_reply),
]


class LlmEndpoint:
    """A vendor's API on a fixed port. Told to go away, it takes the next request, stops listening and drops the
    connection without a word; `start` brings it back on the same address, answering with `ANSWER`."""

    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor
        self.port = free_port()
        self.received: list[str] = []
        self.gone = threading.Event()
        self._leave_on_next = False
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.vendor.url_suffix}"

    def start(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                endpoint.received.append(self.path)
                if endpoint._leave_on_next or endpoint.gone.is_set():
                    endpoint._leave_on_next = False
                    endpoint.gone.set()
                    threading.Thread(target=endpoint.stop, daemon=True).start()
                    self.close_connection = True
                    return
                reply = endpoint.vendor.reply(json.dumps(ANSWER))
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.gone.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def leave_on_next_request(self) -> None:
        self._leave_on_next = True

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


@pytest.fixture(params=VENDORS, ids=[v.provider for v in VENDORS])
def endpoint(request: pytest.FixtureRequest, settings: Any) -> Iterator[LlmEndpoint]:
    vendor: Vendor = request.param
    server = LlmEndpoint(vendor)
    server.start()
    settings.LIPSERVICE_LLM_PROVIDER = vendor.provider
    settings.LIPSERVICE_LLM_TIMEOUT = 10.0
    prefix = vendor.provider.upper()
    setattr(settings, f"{prefix}_API_KEY", "test-key")
    setattr(settings, f"{prefix}_BASE_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service(team: Team, tmp_path: Path, settings: Any) -> Service:
    settings.LIPSERVICE_FILE_SOURCE_ROOTS = [str(tmp_path)]
    path = tmp_path / "payments-worker.jsonl.gz"
    write_demo_file(path=path, service="payments-worker", end=floor_hour(timezone.now()), days=1, scale=0.05, seed=3)
    return Service.objects.create(
        team=team, name="payments-worker", source_kind=Service.SourceKind.FILE, source_config={"path": str(path)}
    )


def test_llm_endpoint_going_away_mid_generation_leaves_a_whole_rule_policy_with_the_reason_and_is_used_once_back(
    service: Service, endpoint: LlmEndpoint
) -> None:
    endpoint.leave_on_next_request()

    outcome = run_pipeline.delay(service_id=service.pk).get()

    assert endpoint.gone.is_set() and endpoint.received[0] == endpoint.vendor.path, "the request reached the endpoint"
    assert outcome.endswith("version 1 proposed")
    fallback = PolicyVersion.objects.get(service=service)
    assert fallback.generated_by == fallback.document["generated_by"] == "rules"
    assert fallback.fallback_reason.startswith("connection_error")
    assert fallback.reasoning == fallback.document["reasoning"] != ANSWER["reasoning"]
    assert fallback.simulation["verdict"]["passes"] is True
    assert AuditEntry.objects.get(service=service, action="policy.proposed").detail["generated_by"] == "rules"

    endpoint.start()
    recovered = policy_propose(service=service)

    assert recovered is not None and recovered.number == 2
    assert recovered.generated_by == f"llm:{endpoint.vendor.provider}:{endpoint.vendor.model}"
    assert recovered.fallback_reason == ""
    assert recovered.document["reasoning"] == ANSWER["reasoning"]
    assert PolicyVersion.objects.filter(service=service).count() == 2
