"""The outbound door: private destinations refused unless the operator allows them, the checked address pinned, no
redirects, https in production, and no peer body echoed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from lipservice.delivery import post_once
from lipservice.models import Team
from lipservice.outbound import OutboundRefused, check_url, outbound_client

REFUSED = [
    "http://127.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
]


class Peer:
    """A local HTTP server answering every request with a fixed status, headers and body, and recording the Host."""

    def __init__(self, status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        self.hosts: list[str] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                peer.hosts.append(self.headers.get("Host", ""))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    yield server
    server.stop()


@pytest.mark.parametrize("url", REFUSED)
def test_private_destinations_are_refused_by_default(url: str) -> None:
    with pytest.raises(OutboundRefused, match=r"LIPSERVICE_OUTBOUND_ALLOW|resolve"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1/hook", ["127.0.0.0/8"]),
        ("http://169.254.169.254/x", ["169.254.169.254/32"]),
        ("http://10.0.0.1/hook", ["10.0.0.0/8"]),
        ("http://localhost/hook", ["localhost"]),
    ],
)
def test_the_operator_setting_allows_named_hosts_and_cidrs(url: str, allow: list[str], settings: Any) -> None:
    settings.LIPSERVICE_OUTBOUND_ALLOW = allow
    assert check_url(url).address


def test_a_public_address_passes_and_other_schemes_do_not() -> None:
    assert check_url("https://93.184.215.14/x").address == "93.184.215.14"
    with pytest.raises(OutboundRefused, match="http or https, not file"):
        check_url("file:///etc/passwd")


def test_production_requires_https(settings: Any) -> None:
    settings.PRODUCTION = True
    settings.LIPSERVICE_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with pytest.raises(OutboundRefused, match="must use https"):
        check_url("http://127.0.0.1/hook")
    assert check_url("https://127.0.0.1/hook").address == "127.0.0.1"


def test_a_delivery_to_loopback_is_refused_without_sending_and_not_retried(peer: Peer) -> None:
    attempt = post_once(peer.url, body=b"{}", headers={}, timeout=2)
    assert not attempt.delivered and not attempt.retryable and "refused" in attempt.error
    assert peer.hosts == []


def test_a_delivery_to_loopback_goes_out_when_the_operator_allows_it(peer: Peer, loopback_peers: None) -> None:
    assert post_once(peer.url, body=b"{}", headers={}, timeout=2).delivered
    assert peer.hosts == [f"127.0.0.1:{peer.port}"]


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    peer: Peer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.LIPSERVICE_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    answers = iter(["127.0.0.1", "10.9.9.9"])  # a second lookup would rebind the name elsewhere
    real = socket.getaddrinfo

    def resolver(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with outbound_client(timeout=2) as client:
        response = client.post(f"http://hooks.rebind.test:{peer.port}/hook", content=b"{}")
    assert response.status_code == 200
    assert peer.hosts == [f"hooks.rebind.test:{peer.port}"]
    assert next(answers) == "10.9.9.9"  # resolved once, for the check, and that answer was used


def test_a_name_resolving_to_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))],
    )
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1, a loopback address"):
        check_url("https://innocent.example/hook")


def test_redirects_are_not_followed(loopback_peers: None) -> None:
    target = Peer()
    redirect = Peer(status=302, headers={"Location": target.url})
    try:
        attempt = post_once(redirect.url, body=b"{}", headers={}, timeout=2)
        assert not attempt.delivered and attempt.status == 302
        assert target.hosts == []
    finally:
        target.stop()
        redirect.stop()


def test_a_failed_answer_records_its_status_not_the_peer_body(loopback_peers: None) -> None:
    peer = Peer(status=500, body=b"internal-secret-page-contents")
    try:
        attempt = post_once(peer.url, body=b"{}", headers={}, timeout=2)
    finally:
        peer.stop()
    assert attempt.status == 500 and attempt.retryable
    assert "internal-secret" not in attempt.error and "500" in attempt.error


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["http://127.0.0.1:9", "http://169.254.169.254", "http://10.0.0.1"])
def test_team_connection_test_refuses_a_private_posthog_host(client: APIClient, team: Team, host: str) -> None:
    team.posthog_host = host
    team.posthog_project_id = "1"
    team.posthog_personal_api_key = "phx_tenant_key_value"
    team.save()
    report = client.post("/api/v1/team/test-connection").json()
    assert report["logs_read"]["status"] == "error"
    assert "refused" in report["logs_read"]["detail"]


@pytest.mark.django_db
def test_team_clickhouse_url_on_loopback_is_refused(client: APIClient, team: Team) -> None:
    team.clickhouse_url = "clickhouse://default@127.0.0.1:9000/default"
    team.clickhouse_team_id = 1
    team.save()
    report = client.post("/api/v1/team/test-connection").json()
    assert report["clickhouse"]["status"] == "error" and "refused" in report["clickhouse"]["detail"]
