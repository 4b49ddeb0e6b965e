"""The one door to the LipService API: policy fetch (ETag) and stats post, stdlib HTTP with short timeouts."""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from lipservice_sdk.policy import PolicyDocument, PolicyFormatError, policy_from_json

MAX_POLICY_BYTES = 5 * 1024 * 1024
MAX_RETRY_AFTER_SECONDS = 600.0


@dataclass(frozen=True)
class HttpResult:
    status: int  # 0 when no HTTP answer arrived (connection refused, timeout, DNS)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


@dataclass(frozen=True)
class PolicyFetch:
    """`changed` with a document and its ETag on 200; `not_modified` on 304; `missing` on 404; else `failed`."""

    outcome: str
    document: PolicyDocument | None = None
    etag: str = ""
    retry_after: float | None = None
    detail: str = ""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), capped; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def check_base_url(url: str) -> str:
    """Only http(s) URLs are accepted, so urlopen can never be pointed at file: or ftp: by configuration."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected an http(s) URL, got {url!r}")
    return url.rstrip("/")


class LipServiceClient:
    def __init__(self, *, base_url: str, api_key: str | None, user_agent: str, timeout: float = 5.0) -> None:
        self.base_url = check_base_url(base_url)
        self._api_key = api_key
        self._user_agent = user_agent
        self.timeout = timeout

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json", **extra}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _send(
        self, method: str, path: str, *, body: bytes | None, headers: dict[str, str], timeout: float | None, limit: int
    ) -> HttpResult:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in check_base_url
            self.base_url + path, data=body, method=method, headers=self._headers(headers)
        )
        wait = self.timeout if timeout is None else max(0.05, min(timeout, self.timeout))
        try:
            with urllib.request.urlopen(request, timeout=wait) as response:  # noqa: S310 - see above
                return HttpResult(response.status, _lower(response.headers.items()), response.read(limit + 1))
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read(limit + 1)
            except OSError:
                payload = b""
            return HttpResult(exc.code, _lower(exc.headers.items() if exc.headers else []), payload)
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets and http.client errors
            return HttpResult(0, error=f"{type(exc).__name__}: {exc}"[:300])

    def fetch_policy(self, service: str, *, etag: str = "", timeout: float | None = None) -> PolicyFetch:
        path = "/api/v1/policies/" + urllib.parse.quote(service, safe="")
        result = self._send(
            "GET", path, body=None, headers={"If-None-Match": etag} if etag else {}, timeout=timeout,
            limit=MAX_POLICY_BYTES,
        )  # fmt: skip
        if result.status == 304:
            return PolicyFetch("not_modified", etag=etag)
        if result.status == 404:
            return PolicyFetch("missing")
        if result.status != 200:
            detail = result.error or f"HTTP {result.status}"
            return PolicyFetch("failed", retry_after=result.retry_after, detail=detail)
        if len(result.body) > MAX_POLICY_BYTES:
            return PolicyFetch("failed", detail="policy document too large")
        try:
            document = policy_from_json(result.body)
        except (PolicyFormatError, RecursionError, OverflowError, ValueError) as exc:
            return PolicyFetch("failed", detail=f"invalid policy: {type(exc).__name__}: {str(exc)[:200]}")
        return PolicyFetch("changed", document, result.headers.get("etag") or document.etag)

    def post_stats(self, payload: dict[str, Any], *, timeout: float | None = None) -> HttpResult:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return self._send(
            "POST", "/api/v1/patterns/stats", body=body, headers={"Content-Type": "application/json"}, timeout=timeout,
            limit=64 * 1024,
        )  # fmt: skip


def _lower(items: Any) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in items}
