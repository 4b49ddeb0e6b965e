"""Local HTTP servers speaking the OpenAI, Anthropic and Ollama wire formats, scripted per test, recording requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class FakeServer:
    url: str
    requests: list[Recorded]


def openai_reply(content: str, *, model: str = "gpt-4o-mini") -> Reply:
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
    )


def anthropic_reply(content: str, *, model: str = "claude-haiku-4-5") -> Reply:
    return Reply(
        body={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        }
    )


def ollama_reply(content: str, *, model: str = "llama3.1") -> Reply:
    return Reply(
        body={
            "model": model,
            "created_at": "2026-11-23T05:00:00Z",
            "message": {"role": "assistant", "content": content},
            "done": True,
            "done_reason": "stop",
        }
    )


def rate_limited() -> Reply:
    return Reply(
        status=429,
        body={"error": {"type": "rate_limit_error", "message": "slow down"}},
        headers={"retry-after": "0", "retry-after-ms": "10"},
    )


@contextmanager
def fake_server(script: Callable[[Recorded], Reply]) -> Iterator[FakeServer]:
    requests: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            recorded = Recorded(self.path, dict(self.headers), self.rfile.read(length).decode("utf-8", "replace"))
            requests.append(recorded)
            reply = script(recorded)
            if reply.delay:
                time.sleep(reply.delay)
            payload = json.dumps(reply.body).encode() if not isinstance(reply.body, bytes) else reply.body
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield FakeServer(f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()
