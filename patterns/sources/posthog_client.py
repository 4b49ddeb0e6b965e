"""The one HTTP door to the PostHog API: configuration, transport, retries and scopes, error translation."""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from patterns.sources.base import (
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceNotSupportedError,
    SourceQueryError,
    SourceRateLimitedError,
    SourceUnavailableError,
    as_utc,
)

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 2000
MAX_HOGQL_ROWS = 50_000
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})

CheckStatus = Literal["ok", "denied", "unavailable", "unknown", "error"]


@dataclasses.dataclass(frozen=True, slots=True)
class PostHogConfig:
    """`host` is the app host (https://us.posthog.com, https://eu.posthog.com or self-hosted), not the ingest host."""

    host: str
    project_id: int | str
    personal_api_key: str
    timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_retry_after: float = 300.0
    page_size: int = 1000
    max_template_keys: int = MAX_HOGQL_ROWS - 1
    pushdown_window: timedelta | None = timedelta(hours=1)
    min_pushdown_window: timedelta = timedelta(minutes=1)
    verify_tls: bool = True

    def __post_init__(self) -> None:
        if not self.host.startswith(("http://", "https://")):
            raise SourceConfigError(f"PostHog host must be an http(s) URL, got {self.host!r}")
        if not self.personal_api_key:
            raise SourceConfigError("a PostHog personal API key (phx_...) is required")
        if self.personal_api_key.startswith("phc_"):
            raise SourceConfigError("phc_ is a project token for sending; reading needs a personal API key (phx_...)")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise SourceConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if not 1 <= self.max_template_keys <= MAX_HOGQL_ROWS - 1:
            raise SourceConfigError(f"max_template_keys must be below {MAX_HOGQL_ROWS}")
        if self.max_attempts < 1:
            raise SourceConfigError("max_attempts must be at least 1")
        if self.pushdown_window is not None and self.pushdown_window <= timedelta(0):
            raise SourceConfigError("pushdown_window must be positive (or None for one query)")


@dataclasses.dataclass(frozen=True, slots=True)
class HogQLResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    has_more: bool


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    status: CheckStatus
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionReport:
    logs_read: CheckResult
    hogql: CheckResult
    drop_rule_write: CheckResult

    @property
    def can_read(self) -> bool:
        return self.logs_read.status == "ok" and self.hogql.status == "ok"


def outbound_transport(*, verify: bool = True) -> httpx.BaseTransport:
    """The transport of every call made to a PostHog host (API reads and writes, OAuth discovery, tokens).

    One seam, so the outbound door (loopback, private networks, the operator allowlist) applies to all of them.
    """
    from lipservice.outbound import PinnedTransport

    return PinnedTransport(verify=verify)


class PostHogClient:
    """Thread-safe for reads (httpx.Client is); every call retries 429/5xx/timeouts a bounded number of times.

    `auth`, when given, replaces the static bearer key per request (an OAuth token that refreshes itself).
    """

    def __init__(
        self,
        config: PostHogConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            base_url=config.host.rstrip("/"),
            headers={"Authorization": f"Bearer {config.personal_api_key}", "Accept": "application/json"},
            timeout=config.timeout,
            verify=config.verify_tls,
            transport=transport or outbound_transport(verify=config.verify_tls),
            auth=auth,
        )

    def __enter__(self) -> PostHogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def project_path(self) -> str:
        return f"/api/projects/{self.config.project_id}"

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """`scope` is named in the error when PostHog refuses; non-idempotent calls retry only what was never sent."""
        last_problem = "no attempt made"
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                response = self._http.request(method, path, json=json_body, params=params)
            except httpx.ConnectError as exc:
                last_problem = f"cannot connect: {exc}"
            except httpx.TimeoutException as exc:
                if not idempotent:
                    raise SourceUnavailableError(
                        f"PostHog {method} {path} timed out; not retried because it may have been applied: {exc}"
                    ) from exc
                last_problem = f"timed out after {self.config.timeout}s"
            except httpx.HTTPError as exc:
                if not idempotent:
                    raise SourceUnavailableError(f"PostHog {method} {path} failed: {exc}") from exc
                last_problem = f"transport error: {exc}"
            else:
                status = response.status_code
                if status < 300:
                    return _json(response) if status != 204 else None
                if status == 429:
                    wait = _retry_after(response)
                    if wait > self.config.max_retry_after:
                        raise SourceRateLimitedError(
                            f"PostHog rate limit on {path}: asked to wait {wait:.0f}s, over the"
                            f" {self.config.max_retry_after:.0f}s we accept"
                        )
                    last_problem = f"rate limited (429, Retry-After {wait:.1f}s)"
                    if attempt < self.config.max_attempts:
                        logger.info("posthog 429 on %s, waiting %.1fs", path, wait)
                        self._sleep(wait)
                        continue
                    raise SourceRateLimitedError(f"PostHog {method} {path} still rate limited after {attempt} attempts")
                if status in _RETRYABLE_STATUS and idempotent:
                    last_problem = f"HTTP {status}: {_detail(response)}"
                else:
                    raise _http_error(response, method=method, path=path, scope=scope)
            if attempt < self.config.max_attempts:
                self._sleep(self._backoff(attempt))
        raise SourceUnavailableError(
            f"PostHog {method} {path} failed after {self.config.max_attempts} attempts; last: {last_problem}"
        )

    def _backoff(self, attempt: int) -> float:
        # Equal jitter: never less than half the exponential step, so a storm of workers still spreads out.
        step = min(self.config.backoff_max, self.config.backoff_base * (1 << (attempt - 1)))
        return step / 2 + self._jitter() * step / 2

    def logs_query(self, *, query: Mapping[str, Any]) -> dict[str, Any]:
        result = self.request("POST", f"{self.project_path}/logs/query/", scope="logs:read", json_body={"query": query})
        return expect_dict(result, "logs/query")

    def logs_sparkline(self, *, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        result = self.request(
            "POST", f"{self.project_path}/logs/sparkline/", scope="logs:read", json_body={"query": query}
        )
        if isinstance(result, dict):
            result = result.get("results", [])
        return list(result or [])

    def hogql(self, *, query: str, values: Mapping[str, Any] | None = None) -> HogQLResult:
        payload: dict[str, Any] = {"kind": "HogQLQuery", "query": query}
        if values:
            payload["values"] = dict(values)
        result = expect_dict(
            self.request("POST", f"{self.project_path}/query/", scope="query:read", json_body={"query": payload}),
            "query",
        )
        if result.get("error"):
            raise SourceQueryError(f"HogQL query failed: {result['error']}")
        return HogQLResult(
            columns=tuple(result.get("columns") or ()),
            rows=tuple(tuple(row) for row in result.get("results") or ()),
            has_more=bool(result.get("hasMore")),
        )

    def logs_services(self, *, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Per-service volume and error counts: `[{service_name, log_count, error_count, error_rate}]`."""
        result = self.request(
            "POST", f"{self.project_path}/logs/services/", scope="logs:read", json_body={"query": query}
        )
        if isinstance(result, dict) and isinstance(result.get("results"), dict):
            result = result["results"]
        if isinstance(result, dict):
            result = result.get("services", result.get("results", []))
        return [row for row in result or [] if isinstance(row, dict)]

    def list_projects(self) -> list[dict[str, Any]]:
        """The projects the credential can see (`GET /api/projects/`, paginated)."""
        return self.list_all("/api/projects/", scope="project:read")

    def current_key(self) -> dict[str, Any]:
        """The key's own description (scopes, scoped teams); PostHog answers this for personal API keys only."""
        return expect_dict(self.request("GET", "/api/personal_api_keys/@current/", scope="(any)"), "@current")

    def list_drop_rules(self) -> list[dict[str, Any]]:
        return self.list_all(f"{self.project_path}/logs/sampling_rules/", scope="logs:read")

    def test_connection(self) -> ConnectionReport:
        """Probes each capability with reads only; drop-rule writes are judged from the key's scopes, never tried."""
        now = datetime.now(UTC)
        logs_read = self._check(
            lambda: self.logs_query(
                query={"dateRange": date_range(now - timedelta(hours=1), now), "limit": 1, "orderBy": "latest"}
            ),
            ok="logs query answered",
        )
        hogql = self._check(lambda: self.hogql(query="SELECT 1"), ok="HogQL query answered")
        listing = self._check(self.list_drop_rules, ok="drop rules listed")
        drop_rule_write = listing if listing.status != "ok" else self._write_permission()
        return ConnectionReport(logs_read=logs_read, hogql=hogql, drop_rule_write=drop_rule_write)

    def _write_permission(self) -> CheckResult:
        try:
            key = self.current_key()
        except SourceError as exc:
            return CheckResult(
                "unknown", f"drop rules can be listed; write permission unknown (key scopes unreadable: {exc})"
            )
        scopes = set(key.get("scopes") or ())
        if "*" in scopes or "logs:write" in scopes:
            return CheckResult("ok", "drop rules can be listed and the key has logs:write")
        return CheckResult(
            "denied", f"the key lacks scope 'logs:write' (it has: {', '.join(sorted(scopes)) or 'none'})"
        )

    @staticmethod
    def _check(call: Callable[[], object], *, ok: str) -> CheckResult:
        try:
            call()
        except SourceAuthError as exc:
            return CheckResult("denied", str(exc))
        except SourceNotSupportedError as exc:
            return CheckResult("unavailable", str(exc))
        except SourceUnavailableError as exc:
            return CheckResult("unavailable", str(exc))
        except SourceError as exc:
            return CheckResult("error", str(exc))
        return CheckResult("ok", ok)

    def list_all(self, path: str, *, scope: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated listing; `next` links are followed on the configured host only."""
        items: list[dict[str, Any]] = []
        next_path: str | None = path
        next_params = params
        pages = 0
        while next_path is not None:
            pages += 1
            if pages > 1000:
                raise SourceQueryError(f"PostHog listing {path} did not end after 1000 pages")
            result = self.request("GET", next_path, scope=scope, params=next_params)
            if isinstance(result, list):
                return items + result
            page = expect_dict(result, path)
            items.extend(page.get("results") or [])
            next_url = page.get("next")
            next_path = _same_host_path(next_url, self.config.host) if next_url else None
            next_params = None
        return items


def date_range(start: datetime, end: datetime) -> dict[str, str]:
    return {"date_from": as_utc(start).isoformat(), "date_to": as_utc(end).isoformat()}


def _retry_after(response: httpx.Response) -> float:
    header = response.headers.get("Retry-After", "").strip()
    if not header:
        return 1.0
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, (as_utc(when) - datetime.now(UTC)).total_seconds())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise SourceQueryError(
            f"PostHog answered {response.request.url.path} with non-JSON ({response.headers.get('content-type')})"
        ) from exc


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceQueryError(f"PostHog {what} answered {type(value).__name__}, expected an object")
    return value


def _detail(response: httpx.Response) -> str:
    """A short reason for an error: PostHog's own `detail`/`code` field, else the reason phrase. Never the body: the
    host is the tenant's choice, and what it answers is echoed back to them."""
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(payload, dict):
        for field in ("detail", "error", "message", "code"):
            if isinstance(payload.get(field), str) and payload[field]:
                return "".join(ch for ch in payload[field][:120] if ch.isprintable())
    return response.reason_phrase


def _http_error(response: httpx.Response, *, method: str, path: str, scope: str) -> SourceError:
    status, detail = response.status_code, _detail(response)
    lowered = detail.lower()
    if status == 401:
        return SourceAuthError(
            f"PostHog rejected the personal API key (401) on {method} {path}: {detail}."
            f" Use a personal API key (phx_...) with scope '{scope}'",
            scope=scope,
        )
    if status == 403:
        if "feature" in lowered or "flag" in lowered or "not enabled" in lowered:
            return SourceNotSupportedError(
                f"PostHog refused {method} {path} (403): {detail}. The feature (or its feature flag) is not"
                " enabled for this project"
            )
        return SourceAuthError(
            f"PostHog denied {method} {path} (403): the key needs scope '{scope}' for this project. {detail}",
            scope=scope,
        )
    if status == 404:
        return SourceNotSupportedError(
            f"PostHog has no {method} {path} (404): check the project id; if it is right, this product is not"
            f" enabled on this instance (feature flag or version). {detail}"
        )
    if status in (400, 422):
        return SourceQueryError(f"PostHog rejected {method} {path} ({status}): {detail}")
    if status == 413:
        return SourceQueryError(f"PostHog refused {method} {path} as too large (413)")
    return SourceUnavailableError(f"PostHog {method} {path} failed with HTTP {status}: {detail}")


def _same_host_path(url: str, host: str) -> str:
    # `next` links are absolute; keep requests on the configured host so the key is never sent elsewhere.
    parsed = httpx.URL(url)
    base = httpx.URL(host)
    if parsed.host and (parsed.host != base.host or parsed.port != base.port):
        raise SourceQueryError(f"PostHog pagination pointed to another host: {parsed.host}")
    return parsed.raw_path.decode("ascii")
