"""Request ids, per-request metrics, structured access logs and (when configured) a trace span per request."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from opentelemetry import trace

from lipservice.metrics import REQUEST_SECONDS

logger = logging.getLogger("lipservice.access")
tracer = trace.get_tracer("lipservice")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        with tracer.start_as_current_span(f"{request.method} {request.path}", kind=trace.SpanKind.SERVER) as span:
            response = self.get_response(request)
            route = getattr(getattr(request, "resolver_match", None), "route", None) or "unmatched"
            span.set_attribute("http.route", route)
            span.set_attribute("http.status_code", response.status_code)
        elapsed = time.perf_counter() - started
        REQUEST_SECONDS.labels(request.method or "", route, str(response.status_code)).observe(elapsed)
        response["X-Request-ID"] = request_id
        logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            elapsed * 1000,
            extra={
                "request_id": request_id,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response
