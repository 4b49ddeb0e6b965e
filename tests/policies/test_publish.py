"""Publishing under concurrency, webhooks on publish and rollback, signature checks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection

from patterns.models import Service
from policies.models import PolicyVersion, WebhookDelivery
from policies.services import policy_publish, policy_rollback, webhook_create
from policies.webhooks import SIGNATURE_HEADER, sign, verify
from tests.conftest import require_postgresql
from tests.policies.conftest import make_document

pytestmark = pytest.mark.usefixtures("loopback_peers")


class Receiver:
    """A local webhook endpoint that fails the first `fail_first` requests with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = 500 if len(receiver.requests) <= receiver.fail_first else 204
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver(loopback_peers: None) -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishes_get_strictly_increasing_versions(service: Service) -> None:
    require_postgresql()
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(info: float) -> None:
        try:
            barrier.wait()
            results.append(policy_publish(service=service, document=make_document(info=info), actor="test").number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(0.1 * (i + 1),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [1, 2, 3, 4]
    assert PolicyVersion.objects.filter(service=service, status="active").count() == 1
    assert PolicyVersion.objects.get(service=service, status="active").number == 4


@pytest.mark.django_db(transaction=True)
def test_publish_and_rollback_send_signed_webhooks(service: Service, receiver: Receiver) -> None:
    _, secret = webhook_create(team=service.team, name="ci", url=receiver.url)
    policy_publish(service=service, document=make_document(), actor="test")
    policy_publish(service=service, document=make_document(info=0.3), actor="test")
    policy_rollback(service=service, number=1, actor="test")
    assert len(receiver.requests) == 3
    events = [json.loads(body)["event"] for _, body in receiver.requests]
    assert events == ["policy.published", "policy.published", "policy.rolled_back"]
    for headers, body in receiver.requests:
        assert verify(secret=secret, body=body, header=headers[SIGNATURE_HEADER])
        assert not verify(secret="wrong", body=body, header=headers[SIGNATURE_HEADER])
        assert not verify(secret=secret, body=body + b" ", header=headers[SIGNATURE_HEADER])
    assert json.loads(receiver.requests[2][1])["version"] == 3
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db(transaction=True)
def test_failed_webhook_is_retried_and_logged(service: Service) -> None:
    flaky = Receiver(fail_first=2)
    try:
        webhook_create(team=service.team, name="flaky", url=flaky.url)
        policy_publish(service=service, document=make_document(), actor="test")
    finally:
        flaky.close()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert len(flaky.requests) == 3


@pytest.mark.django_db(transaction=True)
def test_unreachable_webhook_ends_failed_without_blocking_publish(service: Service) -> None:
    webhook_create(team=service.team, name="dead", url="http://127.0.0.1:9/hook")
    version = policy_publish(service=service, document=make_document(), actor="test")
    assert version.status == "active"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts >= 2 and delivery.error


def test_signature_refuses_replays_outside_the_tolerance() -> None:
    body = b'{"event":"policy.published"}'
    old = sign(secret="s", body=body, timestamp=int(time.time()) - 3600)
    assert not verify(secret="s", body=body, header=old)
    assert verify(secret="s", body=body, header=sign(secret="s", body=body))
    assert not verify(secret="s", body=body, header="garbage")
