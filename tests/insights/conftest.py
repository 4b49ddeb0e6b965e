"""Fixtures for insights tests: services with hourly windows, and local receivers speaking Slack/PagerDuty/webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from model_bakery import baker

from lipservice.models import Team
from patterns.models import Pattern, PatternWindow, Service


def hour(day: int, h: int = 0) -> datetime:
    return datetime(2026, 11, 2, tzinfo=UTC) + timedelta(days=day, hours=h)


def add_window(pattern: Pattern, bucket: datetime, **counts: int) -> PatternWindow:
    return PatternWindow.objects.create(
        service=pattern.service, pattern=pattern, bucket_start=bucket, bucket_seconds=3600, **counts
    )


def make_pattern(service: Service, pattern_id: str, template: str = "", **fields: Any) -> Pattern:
    pattern: Pattern = baker.make(
        Pattern, service=service, pattern_id=pattern_id, template=template or f"template {pattern_id} <*>", **fields
    )
    return pattern


@pytest.fixture
def service(team: Team) -> Service:
    return baker.make(Service, team=team, name="checkout", source_kind=Service.SourceKind.SDK)


class Receiver:
    """A local HTTP endpoint recording each POST (headers, parsed JSON); answers `codes` in turn, then 200."""

    def __init__(self, codes: tuple[int, ...] = (), reply: bytes = b"ok") -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.codes = list(codes)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(loopback_peers: None) -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
