"""A local PostHog on 127.0.0.1: its OAuth server (RFC 8414 discovery, authorization that approves, a token endpoint
that checks the code, the PKCE verifier and the redirect URI, refresh with rotation, revocation) and the API reads
onboarding uses (projects, `logs/services/`, HogQL), plus the drop-rule and hog-function collections for installs.

HogQL runs for real: the query's `{name}` placeholders are filled from `values` as ClickHouse literals (PostHog does
the same when it compiles HogQL), `toDateTime` gets HogQL's best-effort parsing, and the SQL runs in chdb over a
`logs` table of PostHog's column names that the test fills.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from clickhouse_driver.util.escape import escape_param

PROJECT_ID = 42
PROJECT_TOKEN = "phc_standin_project_token"

LOGS_DDL = """
CREATE TABLE logs (
    timestamp DateTime64(6, 'UTC'),
    body String,
    severity_text LowCardinality(String),
    severity_number Int32,
    service_name LowCardinality(String),
    trace_id String
) ENGINE = MergeTree ORDER BY (service_name, timestamp)
"""


class _Context:
    class server_info:
        @staticmethod
        def get_timezone() -> str:
            return "UTC"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires: float
    used: bool = False


@dataclass
class Tokens:
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    refresh: dict[str, str] = field(default_factory=dict)  # token -> client_id
    revoked: set[str] = field(default_factory=set)


class PostHogStandIn:
    def __init__(self, *, chdb_session: Any = None, access_seconds: int = 3600) -> None:
        self.chdb = chdb_session
        self.access_seconds = access_seconds
        self.approve = True
        self.metadata_patch: dict[str, Any] = {}
        self.discovery = True
        self.cimd_fetcher: Callable[[str], dict[str, Any]] | None = None
        self.grants: dict[str, Grant] = {}
        self.tokens = Tokens()
        self.token_requests: list[dict[str, str]] = []
        self.api_requests: list[tuple[str, str, int]] = []
        self.hogql_queries: list[str] = []
        self.sampling_rules: list[dict[str, Any]] = []
        self.hog_functions: list[dict[str, Any]] = []
        self.projects = [{"id": PROJECT_ID, "name": "Default project", "api_token": PROJECT_TOKEN}]
        self._lock = threading.Lock()
        self._chdb_lock = threading.Lock()
        self.loaded_day: tuple[Any, ...] | None = None
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> PostHogStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                standin._handle(self, "GET")

            def do_POST(self) -> None:
                standin._handle(self, "POST")

            def do_PATCH(self) -> None:
                standin._handle(self, "PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- test controls ---------------------------------------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.tokens.access:
                self.tokens.access[token] = 0.0

    def revoke_all(self) -> None:
        """What a person does in PostHog's "authorized applications" settings."""
        with self._lock:
            self.tokens.revoked.update(self.tokens.access)
            self.tokens.revoked.update(self.tokens.refresh)

    def grant_types(self) -> list[str]:
        return [r.get("grant_type", "") for r in self.token_requests]

    def live_tokens(self) -> int:
        with self._lock:
            return sum(1 for t in [*self.tokens.access, *self.tokens.refresh] if t not in self.tokens.revoked)

    # -- HTTP ------------------------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = parts.path
        if path == "/.well-known/oauth-authorization-server" and method == "GET" and self.discovery:
            return _send(handler, 200, self._metadata())
        if path == "/oauth/authorize/" and method == "GET":
            return self._authorize(handler, {k: v[0] for k, v in parse_qs(parts.query).items()})
        if path == "/oauth/token/" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            status, payload = self._token(form)
            return _send(handler, status, payload)
        if path == "/oauth/revoke/" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            with self._lock:
                if form.get("token"):
                    self.tokens.revoked.add(form["token"])
            return _send(handler, 200, {})
        if path.startswith("/api/"):
            status, payload = self._api(handler, method, path, raw)
            with self._lock:
                self.api_requests.append((method, path, status))
            return _send(handler, status, payload)
        return _send(handler, 404, {"detail": "Not found."})

    def _metadata(self) -> dict[str, Any]:
        base = self.url
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize/",
            "token_endpoint": f"{base}/oauth/token/",
            "revocation_endpoint": f"{base}/oauth/revoke/",
            "introspection_endpoint": f"{base}/oauth/introspect/",
            "scopes_supported": [
                "logs:read",
                "logs:write",
                "query:read",
                "project:read",
                "hog_function:read",
                "hog_function:write",
            ],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": True,
            **self.metadata_patch,
        }

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        client_id = query.get("client_id", "")
        redirect_uri = query.get("redirect_uri", "")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return _send(handler, 400, {"error": "invalid_request", "error_description": "code + S256 required"})
        if not query.get("code_challenge") or not client_id:
            return _send(handler, 400, {"error": "invalid_request", "error_description": "missing parameters"})
        if self.cimd_fetcher is not None:
            document = self.cimd_fetcher(client_id)
            if document.get("client_id") != client_id or redirect_uri not in document.get("redirect_uris", []):
                return _send(handler, 400, {"error": "invalid_request", "error_description": "redirect_uri not listed"})
            ceiling = set((document.get("com.posthog") or {}).get("scopes") or [])
            if ceiling and not set(query.get("scope", "").split()) <= ceiling:
                return _redirect(handler, redirect_uri, {"error": "invalid_scope", "state": query.get("state", "")})
        if not self.approve:
            return _redirect(handler, redirect_uri, {"error": "access_denied", "state": query.get("state", "")})
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.grants[code] = Grant(
                client_id=client_id,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                scope=query.get("scope", ""),
                expires=time.time() + 600,
            )
        return _redirect(handler, redirect_uri, {"code": code, "state": query.get("state", "")})

    def _issue(self, client_id: str, scope: str) -> dict[str, Any]:
        access, refresh = "pha_" + secrets.token_urlsafe(24), "phr_" + secrets.token_urlsafe(24)
        self.tokens.access[access] = time.time() + self.access_seconds
        self.tokens.refresh[refresh] = client_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_seconds,
            "refresh_token": refresh,
            "scope": scope,
            "scoped_teams": [PROJECT_ID],
        }

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.token_requests.append(dict(form))
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                grant = self.grants.get(form.get("code", ""))
                if grant is None or grant.used or grant.expires < time.time():
                    return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
                grant.used = True  # a code is good once, even when the rest of the request is wrong
                if form.get("client_id") != grant.client_id:
                    return 400, {"error": "invalid_client", "error_description": "client_id does not match the code"}
                if form.get("redirect_uri") != grant.redirect_uri:
                    return 400, {"error": "invalid_grant", "error_description": "redirect_uri does not match"}
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                return 200, self._issue(grant.client_id, grant.scope)
            if grant_type == "refresh_token":
                token = form.get("refresh_token", "")
                owner = self.tokens.refresh.get(token)
                if owner is None or token in self.tokens.revoked or owner != form.get("client_id"):
                    return 400, {"error": "invalid_grant", "error_description": "refresh token revoked or unknown"}
                self.tokens.revoked.add(token)  # rotation: a refresh token is used once
                return 200, self._issue(owner, form.get("scope", ""))
            return 400, {"error": "unsupported_grant_type"}

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        header = handler.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            expiry = self.tokens.access.get(token)
            return expiry is not None and token not in self.tokens.revoked and expiry > time.time()

    def _api(self, handler: BaseHTTPRequestHandler, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if not self._authorised(handler):
            return 401, {"type": "authentication_error", "code": "authentication_failed", "detail": "Invalid token."}
        body: Any = json.loads(raw) if raw else {}
        if path == "/api/projects/" and method == "GET":
            return 200, {"count": len(self.projects), "next": None, "previous": None, "results": self.projects}
        match = re.match(rf"^/api/projects/{PROJECT_ID}/(.+?)/?$", path)
        if not match:
            return 404, {"detail": "Not found."}
        route = match.group(1)
        if route == "logs/services" and method == "POST":
            return 200, self._services(body["query"])
        if route == "query" and method == "POST":
            query = body["query"]
            if query.get("kind") != "HogQLQuery":
                return 400, {"detail": "unsupported query kind"}
            return 200, self.hogql(query["query"], query.get("values") or {})
        for prefix, items in (("logs/sampling_rules", self.sampling_rules), ("hog_functions", self.hog_functions)):
            if route.startswith(prefix):
                return _collection(items, method, route, body)
        return 404, {"detail": "Not found."}

    # -- logs ------------------------------------------------------------------------------------------------------

    def _services(self, query: dict[str, Any]) -> dict[str, Any]:
        values = {"start": query["dateRange"]["date_from"], "end": query["dateRange"]["date_to"]}
        result = self.hogql(
            "SELECT service_name, count() AS log_count, countIf(severity_text IN ('error', 'fatal')) AS error_count"
            " FROM logs WHERE timestamp >= toDateTime({start}) AND timestamp < toDateTime({end})"
            " GROUP BY service_name ORDER BY log_count DESC LIMIT 25",
            values,
        )
        services = [
            {"service_name": name, "log_count": count, "error_count": errors, "error_rate": round(errors / count, 4)}
            for name, count, errors in result["results"]
        ]
        return {"services": services, "sparkline": []}

    def hogql(self, text: str, values: dict[str, Any]) -> dict[str, Any]:
        def literal(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"HogQL placeholder {{{name}}} has no value")
            return str(escape_param(values[name], _Context))

        sql = re.sub(r"\{(\w+)\}", literal, text).replace("toDateTime(", "parseDateTime64BestEffort(")
        with self._lock:
            self.hogql_queries.append(text)
        if self.chdb is None:
            return {"results": [[1]], "columns": ["1"], "types": [["1", "UInt8"]], "hasMore": False}
        with self._chdb_lock:
            payload = json.loads(
                self.chdb.query(sql + " SETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompact").bytes()
                or b"{}"
            )
        return {
            "results": payload.get("data", []),
            "columns": [column["name"] for column in payload.get("meta", [])],
            "types": [[column["name"], column["type"]] for column in payload.get("meta", [])],
            "hasMore": False,
        }

    def load_last_day(self, *, lines: int, services: tuple[str, ...], margin_seconds: float = 60.0) -> None:
        """`lines` lines over the 24 full hours before now, the window onboarding analyses. Called again (by each
        test's fixture) it reloads when the clock has moved into another hour since, and first waits out the end of
        an hour that is less than `margin_seconds` away, so that the window a test then chooses is the loaded one."""
        now = utc_now()
        to_next_hour = 3600 - (now.minute * 60 + now.second + now.microsecond / 1e6)
        if to_next_hour < margin_seconds:
            time.sleep(to_next_hour + 0.5)
            now = utc_now()
        end = now.replace(minute=0, second=0, microsecond=0)
        wanted = (lines, end, services)
        if self.loaded_day != wanted:
            self.load_logs(lines=lines, start=end - timedelta(hours=24), end=end, services=services)
            self.loaded_day = wanted

    def load_logs(self, *, lines: int, start: datetime, end: datetime, services: tuple[str, ...]) -> None:
        """`lines` log lines spread evenly over [start, end), round-robin over the services: chatty access logs,
        cache hits, logins, slow queries and a few errors, with ids and numbers that the template key masks.
        Replaces what was loaded before."""
        assert self.chdb is not None
        self.chdb.query("DROP TABLE IF EXISTS logs")
        start_us = int(start.timestamp() * 1_000_000)
        step_us = max(1, int((end - start).total_seconds() * 1_000_000) // lines)
        names = ", ".join(str(escape_param(s, _Context)) for s in services)
        self.chdb.query(LOGS_DDL)
        self.chdb.query(
            f"""
INSERT INTO logs
SELECT fromUnixTimestamp64Micro(toInt64({start_us} + number * {step_us}), 'UTC') AS ts,
       multiIf(k < 50, concat('GET /api/items/', toString(number % 5000), ' 200 in ', toString(k), 'ms'),
               k < 75, concat('cache hit for key user:', toString(number % 977)),
               k < 90, concat('user ', toString(number % 1234), ' logged in from 10.0.', toString(k), '.',
                              toString(number % 250)),
               k < 98, concat('slow query took ', toString(k * 10), ' ms on shard ', toString(number % 7)),
               concat('payment failed for order ', toString(number), ': card declined')) AS body,
       multiIf(k >= 98, 'error', k >= 90, 'warn', k < 25, 'debug', 'info') AS severity_text,
       multiIf(k >= 98, 17, k >= 90, 13, k < 25, 5, 9) AS severity_number,
       [{names}][number % {len(services)} + 1] AS service_name,
       lower(hex(cityHash64(intDiv(number, 4)))) AS trace_id
FROM (SELECT number, cityHash64(number) % 100 AS k FROM numbers({lines}))
"""  # noqa: S608 - test data from integers and escaped service names
        )

    def count_lines(self) -> int:
        assert self.chdb is not None
        return int(json.loads(self.chdb.query("SELECT count() FROM logs", "JSONCompact").bytes())["data"][0][0])


def _collection(items: list[dict[str, Any]], method: str, route: str, body: Any) -> tuple[int, Any]:
    item_id = re.search(r"/([^/]+)$", route)
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


def _redirect(handler: BaseHTTPRequestHandler, target: str, params: dict[str, str]) -> None:
    separator = "&" if "?" in target else "?"
    handler.send_response(302)
    handler.send_header("Location", target + separator + urlencode(params))
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload, default=str).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def utc_now() -> datetime:
    return datetime.now(UTC)
