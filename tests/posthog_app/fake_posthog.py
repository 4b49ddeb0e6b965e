"""A local HTTP server on 127.0.0.1 speaking PostHog's hog_functions and logs/sampling_rules endpoints."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_COLLECTION = re.compile(
    r"^/api/projects/(?P<project>[^/]+)/(?P<kind>hog_functions|logs/sampling_rules)/(?:(?P<id>[^/?]+)/)?(?:\?.*)?$"
)


@dataclass
class FakePostHog:
    project_id: str
    token: str
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"hog_functions": {}, "logs/sampling_rules": {}}
    )
    writes: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, method: str, path: str, body: Any, auth: str) -> tuple[int, Any]:
        if auth != f"Bearer {self.token}":
            return 401, {"type": "authentication_error", "detail": "Invalid personal API key."}
        match = _COLLECTION.match(path)
        if match is None or match["project"] != self.project_id:
            return 404, {"detail": "Not found."}
        store = self.objects[match["kind"]]
        object_id = match["id"]
        if method == "GET" and object_id is None:
            items = list(store.values())
            if match["kind"] == "hog_functions" and "type=" in path:
                wanted = path.split("type=", 1)[1].split("&", 1)[0]
                items = [i for i in items if i.get("type") == wanted]
            return 200, {"count": len(items), "next": None, "previous": None, "results": items}
        if method == "POST" and object_id is None:
            new_id = str(next(self._ids))
            store[new_id] = {**body, "id": new_id}
            if match["kind"] == "hog_functions":
                store[new_id]["inputs"] = {k: {**v, "bytecode": ["_H", 1]} for k, v in body.get("inputs", {}).items()}
            self.writes.append((method, path))
            return 201, store[new_id]
        if method == "PATCH" and object_id in store:
            store[object_id].update(body)
            self.writes.append((method, path))
            return 200, store[object_id]
        return 405, {"detail": f"{method} not allowed"}


@contextmanager
def fake_posthog(*, project_id: str = "4242", bearer: str = "phx_test") -> Iterator[FakePostHog]:
    state = FakePostHog(project_id=project_id, token=bearer)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, payload = state.handle(self.command, self.path, body, self.headers.get("Authorization", ""))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
