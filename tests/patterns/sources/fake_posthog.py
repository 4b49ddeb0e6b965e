"""A local HTTP server speaking PostHog's documented Logs, HogQL, drop-rule and hog-function endpoints."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "phx_test_personal_key"
PROJECT_ID = 42

Scripted = tuple[int, dict[str, str], Any]


def make_rows(count: int, *, start: datetime, services: tuple[str, ...] = ("api", "worker")) -> list[dict[str, Any]]:
    """PostHog-shaped rows; every third pair shares a timestamp so cursors must tie-break on uuid."""
    rows = []
    for i in range(count):
        moment = start + timedelta(milliseconds=(i // 3) * 250)
        rows.append(
            {
                "uuid": f"01890000-0000-7000-8000-{i:012d}",
                "timestamp": moment.isoformat().replace("+00:00", "Z"),
                "observed_timestamp": moment.isoformat().replace("+00:00", "Z"),
                "body": f"GET /api/items/{i} 200 in {i % 97}ms",
                "severity_text": ("info", "warn", "error", "debug")[i % 4],
                "severity_number": (9, 13, 17, 5)[i % 4],
                "trace_id": "0" * 32 if i % 5 == 0 else f"{i:032x}",
                "span_id": "0" * 16 if i % 5 == 0 else f"{i:016x}",
                "attributes": {"http.status": "200", "attempt": i % 3},
                "resource_attributes": {"service.name": services[i % len(services)]},
                "service_name": services[i % len(services)],
                "event_name": "",
            }
        )
    return rows


class FakePostHog:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.scripted: dict[str, list[Scripted]] = {}
        self.key_scopes: list[str] | None = ["*"]
        self.sampling_rules: list[dict[str, Any]] = []
        self.hog_functions: list[dict[str, Any]] = []
        self.hogql_handler: Callable[[str, dict[str, Any]], dict[str, Any]] = lambda q, v: {
            "results": [[1]],
            "columns": ["1"],
            "types": [["1", "UInt8"]],
            "hasMore": False,
        }
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def script(self, route: str, *responses: Scripted) -> None:
        """Queue responses for a route ("logs/query", "query", ...) served before the normal behaviour."""
        with self._lock:
            self.scripted.setdefault(route, []).extend(responses)

    def count(self, method: str, route: str) -> int:
        return sum(1 for m, r, _ in self.requests if m == method and r == route)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path = handler.path.split("?", 1)[0]
        route = _route(path)
        with self._lock:
            self.requests.append((method, route, body))
            queued = self.scripted.get(route)
            scripted = queued.pop(0) if queued else None
        if handler.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _send(handler, 401, {"type": "authentication_error", "detail": "Personal API key is invalid."})
        if scripted is not None:
            status, headers, payload = scripted
            return _send(handler, status, payload, headers)
        status, payload = self._respond(method, route, path, body, handler.path)
        _send(handler, status, payload)

    def _respond(self, method: str, route: str, path: str, body: Any, full_path: str) -> tuple[int, Any]:
        if route == "logs/query" and method == "POST":
            return 200, self._logs_query(body["query"])
        if route == "query" and method == "POST":
            query = body["query"]
            return 200, self.hogql_handler(query["query"], query.get("values") or {})
        if route == "@current" and method == "GET":
            if self.key_scopes is None:
                return 404, {"detail": "Not found."}
            return 200, {"id": "k1", "label": "lipservice", "scopes": self.key_scopes, "scoped_teams": [PROJECT_ID]}
        if route == "logs/sampling_rules":
            return self._collection(self.sampling_rules, method, path, body)
        if route == "hog_functions":
            return self._collection(self.hog_functions, method, path, body)
        return 404, {"detail": "Not found."}

    def _collection(self, items: list[dict[str, Any]], method: str, path: str, body: Any) -> tuple[int, Any]:
        item_id = re.search(r"/([^/]+)/?$", path)
        if method == "GET":
            return 200, {"count": len(items), "next": None, "previous": None, "results": items}
        if method == "POST":
            created = {"id": f"id-{len(items) + 1}", **body}
            items.append(created)
            return 201, created
        if method == "PATCH" and item_id:
            for item in items:
                if item["id"] == item_id.group(1):
                    item.update(body)
                    return 200, item
        return 404, {"detail": "Not found."}

    def _logs_query(self, query: dict[str, Any]) -> dict[str, Any]:
        limit = min(int(query.get("limit", 1000)), 2000)
        date_from = _parse(query["dateRange"]["date_from"])
        date_to = _parse(query["dateRange"]["date_to"])
        services = set(query.get("serviceNames") or [])
        levels = set(query.get("severityLevels") or [])
        matching = [
            row
            for row in self.rows
            if date_from <= _parse(row["timestamp"]) <= date_to
            and (not services or row["service_name"] in services)
            and (not levels or row["severity_text"] in levels)
        ]
        matching.sort(key=lambda r: (_parse(r["timestamp"]), r["uuid"]))
        if query.get("after"):
            cursor = json.loads(base64.b64decode(query["after"]))
            after = (_parse(cursor["timestamp"]), cursor["uuid"])
            matching = [r for r in matching if (_parse(r["timestamp"]), r["uuid"]) > after]
        page = matching[:limit]
        has_more = len(matching) > limit
        next_cursor = None
        if has_more:
            last = page[-1]
            next_cursor = base64.b64encode(
                json.dumps({"timestamp": last["timestamp"], "uuid": last["uuid"]}).encode()
            ).decode()
        return {"results": page, "hasMore": has_more, "nextCursor": next_cursor}


def _route(path: str) -> str:
    if path.startswith("/api/personal_api_keys/@current"):
        return "@current"
    match = re.match(rf"^/api/projects/{PROJECT_ID}/(.+?)/?$", path)
    if not match:
        return path
    rest = match.group(1)
    for prefix in ("logs/sampling_rules", "hog_functions"):
        if rest.startswith(prefix):
            return prefix
    return rest


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode() if payload is not None else b""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
