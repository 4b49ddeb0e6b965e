"""Team secrets: env: references are the operator's, keys rotate, and a moved host forgets the stored key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from lipservice import crypto
from lipservice.models import Team

pytestmark = pytest.mark.django_db

PLANTED_SECRET = "planted-server-secret-0123456789abcdef"


class Listener:
    """A local server that records every byte of every request it is sent."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                listener.received.append(
                    bytes(self.requestline, "latin-1") + bytes(self.headers) + self.rfile.read(length)
                )
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"detail": "no"}')

            do_GET = do_POST = _record

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.stop()


@pytest.mark.parametrize("field", ["posthog_personal_api_key", "clickhouse_url"])
@pytest.mark.parametrize("value", ["env:DJANGO_SECRET_KEY", "env:SOME_SERVER_VARIABLE", " ENV:HOME"])
def test_tenant_admin_storing_an_env_reference_gets_400(team_admin_client: APIClient, field: str, value: str) -> None:
    response = team_admin_client.patch("/api/v1/team", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "SOME_SERVER_VARIABLE"])
def test_planted_env_reference_never_puts_the_server_secret_on_the_wire(
    client: APIClient,
    team: Team,
    listener: Listener,
    loopback_peers: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, PLANTED_SECRET)
    settings.LIPSERVICE_SECRET_ENV_NAMES = ["DJANGO_SECRET_KEY"]  # even an operator cannot expose this one
    Team.objects.filter(pk=team.pk).update(
        posthog_host=listener.url,
        posthog_project_id="1",
        posthog_personal_api_key_encrypted=crypto.encrypt(f"env:{variable}"),
        clickhouse_url_encrypted=crypto.encrypt(f"env:{variable}"),
        clickhouse_team_id=1,
    )
    response = client.post("/api/v1/team/test-connection")
    assert response.status_code == 200
    assert PLANTED_SECRET not in response.content.decode()
    assert all(PLANTED_SECRET.encode() not in request for request in listener.received)


def test_operator_allowed_env_reference_is_sent_to_its_host(
    client: APIClient,
    team: Team,
    listener: Listener,
    loopback_peers: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    # The same path as above with the name allowed: the listener does see the value, so the test above can fail.
    monkeypatch.setenv("ACME_POSTHOG_KEY", PLANTED_SECRET)
    settings.LIPSERVICE_SECRET_ENV_NAMES = ["ACME_POSTHOG_KEY"]
    Team.objects.filter(pk=team.pk).update(
        posthog_host=listener.url,
        posthog_project_id="1",
        posthog_personal_api_key_encrypted=crypto.encrypt("env:ACME_POSTHOG_KEY"),
    )
    client.post("/api/v1/team/test-connection")
    assert any(PLANTED_SECRET.encode() in request for request in listener.received)


def test_secrets_written_under_k1_read_after_rotating_to_k2_and_reencrypt_moves_them(team: Team) -> None:
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(LIPSERVICE_ENCRYPTION_KEY=k1):
        team.posthog_personal_api_key = "phx_written_under_k1"
        team.clickhouse_url = "clickhouse://u:pw@ch.example:9000/db"
        team.save()
    with override_settings(LIPSERVICE_ENCRYPTION_KEY=f"{k2},{k1}"):
        stored = Team.objects.get(pk=team.pk)
        assert stored.posthog_personal_api_key == "phx_written_under_k1"
        Fernet(k1.encode()).decrypt(stored.posthog_personal_api_key_encrypted.encode())  # still under K1
        call_command("reencrypt_secrets")
        moved = Team.objects.get(pk=team.pk)
        assert moved.posthog_personal_api_key_encrypted != stored.posthog_personal_api_key_encrypted
    with override_settings(LIPSERVICE_ENCRYPTION_KEY=k2):
        moved = Team.objects.get(pk=team.pk)
        assert moved.posthog_personal_api_key == "phx_written_under_k1"
        assert moved.clickhouse_url == "clickhouse://u:pw@ch.example:9000/db"
        assert Fernet(k2.encode()).decrypt(moved.posthog_personal_api_key_encrypted.encode()) == b"phx_written_under_k1"


def test_a_secret_no_key_reads_is_shown_as_unreadable_not_a_500(team_admin_client: APIClient, team: Team) -> None:
    with override_settings(LIPSERVICE_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        team.posthog_personal_api_key = "phx_lost_key_secret"
        team.save()
    with override_settings(LIPSERVICE_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        response = team_admin_client.get("/api/v1/team")
    assert response.status_code == 200
    assert "unreadable" in response.json()["posthog_personal_api_key_masked"]


def test_changing_the_posthog_host_forgets_the_stored_key(team_admin_client: APIClient, team: Team) -> None:
    team_admin_client.patch("/api/v1/team", {"posthog_personal_api_key": "phx_original_key_1234"}, format="json")
    moved = team_admin_client.patch("/api/v1/team", {"posthog_host": "https://eu.posthog.com"}, format="json")
    assert moved.status_code == 200 and moved.json()["posthog_personal_api_key_masked"] == ""
    assert Team.objects.get(pk=team.pk).posthog_personal_api_key == ""
    both = {"posthog_host": "https://us.posthog.com", "posthog_personal_api_key": "phx_replacement_5678"}
    assert team_admin_client.patch("/api/v1/team", both, format="json").status_code == 200
    assert Team.objects.get(pk=team.pk).posthog_personal_api_key == "phx_replacement_5678"
    assert team_admin_client.patch("/api/v1/team", {"display_name": "Acme Inc"}, format="json").status_code == 200
    assert Team.objects.get(pk=team.pk).posthog_personal_api_key == "phx_replacement_5678"
