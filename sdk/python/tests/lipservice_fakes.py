"""Local HTTP peers for the SDK tests: an OTLP/HTTP logs receiver (PostHog) and the LipService policy/stats API."""

# ruff: noqa: S107 - fake tokens for local fake servers; the subprocess runs this interpreter

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

HANG_SECONDS = 30.0


def wait_until(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def dead_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class ListHandler(logging.Handler):
    """The application's own handler: remembers what reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


@dataclass
class ReceivedLog:
    body: str
    severity_text: str
    severity_number: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    trace_id: str


def _read_chunked(request: BaseHTTPRequestHandler) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int(request.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            request.rfile.readline()
            return b"".join(chunks)
        chunks.append(request.rfile.read(size))
        request.rfile.readline()


class _Server:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.hang = False
        self.lock = threading.Lock()
        self.arrivals: list[str] = []  # paths, counted before any hang
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._dispatch(self, "GET")

            def do_POST(self) -> None:
                outer._dispatch(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _dispatch(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":  # Node's HTTP client streams gzip
            body = _read_chunked(request)
        else:
            length = int(request.headers.get("Content-Length") or 0)
            body = request.rfile.read(length) if length else b""
        with self.lock:
            self.arrivals.append(request.path)
        if self.hang:
            self.release.wait(HANG_SECONDS)
        headers = {key.lower(): value for key, value in request.headers.items()}
        status, headers, payload = self.respond(method, request.path, headers, body)
        try:
            request.send_response(status)
            for key, value in headers.items():
                request.send_header(key, value)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except OSError:  # the client gave up waiting, which the hang tests provoke
            request.close_connection = True

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


class OtlpServer(_Server):
    """PostHog's `/i/v1/logs` endpoint: OTLP protobuf (gzip allowed), project token as a Bearer token."""

    def __init__(self, token: str = "phc_test") -> None:
        super().__init__()
        self.token = token
        self.logs: list[ReceivedLog] = []
        self.rejected = 0
        self.unavailable_until = 0.0  # time.monotonic() before which every export is answered 503
        self.unavailable_answers = 0
        self.retry_after = "1"  # the Retry-After of those 503 answers
        self.post_times: list[float] = []  # time.monotonic() of every export's arrival

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method != "POST" or path != "/i/v1/logs":
            return 404, {}, b""
        with self.lock:
            self.post_times.append(time.monotonic())
        if headers.get("authorization") != f"Bearer {self.token}":
            with self.lock:
                self.rejected += 1
            return 401, {}, b""
        with self.lock:
            if time.monotonic() < self.unavailable_until:
                self.unavailable_answers += 1
                return 503, {"Retry-After": self.retry_after}, b""
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportLogsServiceRequest.FromString(body)
        received = []
        for resource_logs in request.resource_logs:
            resource = {kv.key: _any_value(kv.value) for kv in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    received.append(
                        ReceivedLog(
                            body=str(_any_value(record.body)),
                            severity_text=record.severity_text,
                            severity_number=int(record.severity_number),
                            attributes={kv.key: _any_value(kv.value) for kv in record.attributes},
                            resource=resource,
                            trace_id=record.trace_id.hex(),
                        )
                    )
        with self.lock:
            self.logs.extend(received)
        payload = ExportLogsServiceResponse().SerializeToString()
        return 200, {"Content-Type": "application/x-protobuf"}, payload

    def bodies(self) -> list[str]:
        with self.lock:
            return [log.body for log in self.logs]


@dataclass
class StatsReply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    record: bool = False  # count the batch even though the reply is an error (a lost acknowledgement)


class LipServiceServer(_Server):
    """`GET /api/v1/policies/{service}` with ETag/304/404 and `POST /api/v1/patterns/stats`, idempotent by batch_id."""

    def __init__(self, api_key: str = "lsk_test") -> None:
        super().__init__()
        self.api_key = api_key
        self.policy: dict[str, Any] | None = None
        self.etag = ""
        self.policy_status: int | None = None  # force this status on policy requests
        self.policy_body: bytes | None = None  # answer policy requests with these bytes (a hostile document)
        self.policy_requests: list[dict[str, str]] = []
        self.stats_script: list[StatsReply] = []
        self.stats_posts: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}

    def publish(self, policy: dict[str, Any], etag: str) -> None:
        with self.lock:
            self.policy, self.etag, self.policy_status, self.policy_body = policy, etag, None, None

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, b'{"error": {"code": "unauthorized"}}'
        if method == "GET" and path.startswith("/api/v1/policies/"):
            return self._policy(headers)
        if method == "POST" and path == "/api/v1/patterns/stats":
            return self._stats(json.loads(body))
        return 404, {}, b""

    def _policy(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.policy_requests.append(headers)
            if self.policy_status is not None:
                return self.policy_status, {}, b'{"error": {"code": "forced"}}'
            if self.policy_body is not None:
                return 200, {"ETag": '"raw"', "Content-Type": "application/json"}, self.policy_body
            if self.policy is None:
                return 404, {}, b'{"error": {"code": "not_found"}}'
            if headers.get("if-none-match") == self.etag:
                return 304, {"ETag": self.etag}, b""
            return 200, {"ETag": self.etag, "Content-Type": "application/json"}, json.dumps(self.policy).encode()

    def _stats(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.stats_posts.append(payload)
            reply = self.stats_script.pop(0) if self.stats_script else StatsReply(202)
            duplicate = payload["batch_id"] in self.accepted
            if reply.status == 202 or reply.record:
                self.accepted.setdefault(payload["batch_id"], payload)
            if reply.status != 202:
                return reply.status, reply.headers, b'{"error": {"code": "scripted"}}'
            answer = {"accepted": len(payload["stats"]), "duplicate": duplicate}
            return 202, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def accepted_totals(self) -> dict[str, int]:
        with self.lock:
            totals = {"seen": 0, "kept": 0, "bytes_seen": 0, "bytes_kept": 0}
            for payload in self.accepted.values():
                for entry in payload["stats"]:
                    for key in totals:
                        totals[key] += entry[key]
            return totals


@contextmanager
def running(server: _Server) -> Iterator[Any]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
