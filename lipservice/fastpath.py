"""The SDK's policy poll answered at the WSGI layer, in front of Django: a thin adapter over `policies.read`.

`GET /api/v1/policies/{service}` is most of the traffic a fleet of SDKs sends, and almost every one of those reads
ends in a cached 304 or in the same cached bytes. This layer answers exactly that case with one Redis round trip
(rate-limit counter, cached entry and lookup counter in one pipeline) and no Django request: the key must already
be known to this process (`lipservice.selectors.api_key_find_active` remembers it), Redis must hold the policy and
the key must be under its rate limit. Every other request, and every doubt (an unknown or revoked key, a missing
policy, a full rate limit, Redis unreachable, an unusual path, host or scheme), goes to Django unchanged, which
answers it with the usual checks and error bodies. Responses carry the same headers as Django's answer (security
headers, ETag, Cache-Control, X-Request-ID) and are counted in the same request metrics and access log.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from opentelemetry import trace
from redis.exceptions import RedisError

from lipservice.metrics import POLICY_FAST_READS, REQUEST_SECONDS
from lipservice.selectors import api_key_find_local
from lipservice.services import api_key_touch
from policies.read import policy_answer, policy_read_cached

logger = logging.getLogger("lipservice.access")
tracer = trace.get_tracer("lipservice")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ROUTE = "api/v1/policies/<str:service>"
_PATH = re.compile(r"/api/v1/policies/([A-Za-z0-9._~-]{1,200})")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_STATUS = {200: "200 OK", 304: "304 Not Modified"}


class PolicyReadFastPath:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("SCRIPT_NAME"):
            match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                started = time.perf_counter()
                with tracer.start_as_current_span("GET " + environ["PATH_INFO"], kind=trace.SpanKind.SERVER) as span:
                    try:
                        served = self._serve(environ, match.group(1))
                    except RedisError:
                        served = None
                    if served is not None:
                        span.set_attribute("http.route", ROUTE)
                        span.set_attribute("http.status_code", served[0])
                if served is not None:
                    status, headers, body = served
                    start_response(_STATUS[status], headers)
                    self._observe(environ, status, started, headers)
                    return [body]
        return self.app(environ, start_response)

    def _serve(self, environ: dict[str, Any], service: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
        secure = _is_secure(environ)
        if (settings.SECURE_SSL_REDIRECT and not secure) or not _host_allowed(environ):
            return None
        scheme, _, raw = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw or " " in raw:
            return None
        key = api_key_find_local(raw=raw)
        entry = policy_read_cached(key=key, service=service) if key is not None else None
        if key is None or entry is None:
            return None
        api_key_touch(key=key)
        answer = policy_answer(entry, if_none_match=environ.get("HTTP_IF_NONE_MATCH", ""))
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        headers = [
            *answer.headers,
            ("Content-Length", str(len(answer.body))),
            *_security_headers(secure),
            ("X-Request-ID", request_id),
        ]
        return answer.status, headers, answer.body

    def _observe(self, environ: dict[str, Any], status: int, started: float, headers: list[tuple[str, str]]) -> None:
        POLICY_FAST_READS.inc()
        elapsed = time.perf_counter() - started
        REQUEST_SECONDS.labels("GET", ROUTE, str(status)).observe(elapsed)
        if logger.isEnabledFor(logging.INFO):
            request_id = next(value for name, value in headers if name == "X-Request-ID")
            path = environ.get("PATH_INFO", "")
            logger.info(
                "%s %s %s %.1fms",
                "GET",
                path,
                status,
                elapsed * 1000,
                extra={
                    "request_id": request_id,
                    "route": ROUTE,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )


def _is_secure(environ: dict[str, Any]) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    header: tuple[str, str] | None = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    return header is not None and environ.get(header[0]) == header[1]


def _host_allowed(environ: dict[str, Any]) -> bool:
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        return False  # Django's host resolution for proxies: leave it to Django
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    domain, _ = split_domain_port(host)
    return bool(domain) and bool(settings.ALLOWED_HOSTS) and validate_host(domain, settings.ALLOWED_HOSTS)


def _security_headers(secure: bool) -> list[tuple[str, str]]:
    """What SecurityMiddleware and XFrameOptionsMiddleware add to every response, from the same settings."""
    headers: list[tuple[str, str]] = []
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return headers
