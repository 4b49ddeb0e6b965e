"""Policy distribution: ETag refresh, keeping the last good policy on 304/404/500, and the disk cache at start-up."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lipservice_fakes import LipServiceServer, ListHandler, dead_url, running, wait_until
from lipservice_sdk import configure_adaptive_logging
from lipservice_sdk.client import LipServiceClient, parse_retry_after
from lipservice_sdk.policy import policy_from_dict
from lipservice_sdk.policy_source import PolicyCache

API_KEY = "lsk_test"


def _policy(version: int, info_rate: float) -> dict[str, Any]:
    return {
        "service": "checkout",
        "version": version,
        "severity_rates": {"INFO": info_rate},
        "keep": {"first_per_pattern": False, "first_per_signature": False},
    }


@pytest.fixture
def lipservice() -> Iterator[LipServiceServer]:
    with running(LipServiceServer(API_KEY)) as server:
        yield server


def _version(handle: Any) -> int:
    return -1 if handle.policy is None else int(handle.policy.version)


def test_refresh_follows_etags_and_keeps_the_last_good_policy(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    lipservice.publish(_policy(1, 0.0), '"v1"')
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        refresh_interval=0.05,
    )  # fmt: skip
    assert wait_until(lambda: _version(handle) == 1)
    assert handle.policy_etag == '"v1"'
    logger.info("Item %d added", 1)
    assert app.records == []

    assert wait_until(lambda: handle.stats()["policy_not_modified"] >= 2)
    assert lipservice.policy_requests[0].get("if-none-match") is None
    assert lipservice.policy_requests[-1]["if-none-match"] == '"v1"'
    assert {h["authorization"] for h in lipservice.policy_requests} == {f"Bearer {API_KEY}"}

    lipservice.policy_status = 500
    assert wait_until(lambda: handle.stats()["policy_errors"] >= 2)
    assert _version(handle) == 1

    lipservice.publish(_policy(2, 1.0), '"v2"')
    assert wait_until(lambda: _version(handle) == 2)
    logger.info("Item %d added", 2)
    assert [r.getMessage() for r in app.records] == ["Item 2 added"]

    lipservice.policy = None  # no active policy any more: 404, keep what we have
    assert wait_until(lambda: handle.stats()["policy_missing"] >= 2)
    assert _version(handle) == 2
    cached = json.loads(next(tmp_path.glob("*.policy.json")).read_text())
    assert (cached["etag"], cached["policy"]["version"]) == ('"v2"', 2)
    assert handle.stats()["policy_updates"] == 2


def test_the_disk_cache_decides_at_start_up_when_the_server_is_down(
    tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    url = dead_url()
    PolicyCache(tmp_path, service="checkout", source=url).save(policy_from_dict(_policy(7, 0.0)), '"v7"')
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=url, api_key=API_KEY, cache_dir=tmp_path, logger=logger, refresh_interval=0.05,
        policy=_policy(1, 1.0),
    )  # fmt: skip
    assert (_version(handle), handle.policy_etag) == (7, '"v7"')
    logger.info("Item %d added", 1)
    assert app.records == []
    assert wait_until(lambda: handle.stats()["policy_errors"] >= 2)
    assert _version(handle) == 7


def test_the_cached_etag_is_sent_so_an_unchanged_policy_is_not_downloaded_again(
    lipservice: LipServiceServer, tmp_path: Path
) -> None:
    PolicyCache(tmp_path, service="checkout", source=lipservice.url).save(policy_from_dict(_policy(4, 0.5)), '"v4"')
    lipservice.publish(_policy(4, 0.5), '"v4"')
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, install_logging=False
    )
    assert wait_until(lambda: handle.stats()["policy_not_modified"] == 1)
    assert lipservice.policy_requests[0]["if-none-match"] == '"v4"'


def test_a_hanging_policy_server_does_not_delay_start_or_first_log(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, app = app_logger
    lipservice.hang = True
    started = time.monotonic()
    configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        request_timeout=30,
    )  # fmt: skip
    logger.info("Item %d added", 1)
    assert time.monotonic() - started < 5.0  # waiting for the server would take 30 s
    assert len(app.records) == 1
    assert wait_until(lambda: lipservice.arrivals)


def test_the_client_maps_answers_to_outcomes(lipservice: LipServiceServer) -> None:
    client = LipServiceClient(base_url=lipservice.url, api_key=API_KEY, user_agent="test", timeout=2.0)
    assert client.fetch_policy("checkout").outcome == "missing"
    lipservice.publish(_policy(3, 0.5), '"v3"')
    fetched = client.fetch_policy("checkout")
    assert (fetched.outcome, fetched.etag, fetched.document and fetched.document.version) == ("changed", '"v3"', 3)
    assert client.fetch_policy("checkout", etag='"v3"').outcome == "not_modified"
    lipservice.policy = {"service": "checkout", "default_rate": 3}
    lipservice.etag = '"bad"'
    assert client.fetch_policy("checkout").outcome == "failed"
    unauthorised = LipServiceClient(base_url=lipservice.url, api_key="wrong", user_agent="test")
    assert unauthorised.fetch_policy("checkout").detail == "HTTP 401"
    assert LipServiceClient(base_url=dead_url(), api_key=None, user_agent="test").fetch_policy("x").outcome == "failed"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("7", 7.0), ("-3", 0.0), ("1e9", 600.0), ("soon", None), ("nan", None),
     ("Mon, 23 Nov 2026 05:00:30 GMT", 30.0)],
)  # fmt: skip
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    now = 1795410000.0  # 2026-11-23T05:00:00Z
    assert parse_retry_after(header, now=now) == expected


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com", "example.com", ""])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        configure_adaptive_logging("checkout", lipservice_url=url, install_logging=False)


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    url = dead_url()
    cache = PolicyCache(tmp_path, service="checkout", source=url)
    cache.path.write_text('{"etag": "x", "policy": {"service": ')
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=url, cache_dir=tmp_path, policy=_policy(2, 0.5), install_logging=False
    )
    assert (_version(handle), handle.policy_etag) == (2, "")


def test_the_cache_is_replaced_atomically_and_keyed_by_server(tmp_path: Path) -> None:
    first = PolicyCache(tmp_path, service="check/out", source="https://a.example")
    other = PolicyCache(tmp_path, service="check/out", source="https://b.example")
    first.save(policy_from_dict(_policy(1, 0.5)), '"v1"')
    first.save(policy_from_dict(_policy(2, 0.5)), '"v2"')
    loaded = first.load()
    assert loaded is not None and (loaded[0].version, loaded[1]) == (2, '"v2"')
    assert other.load() is None
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary files left behind
    assert first.path.name.startswith("check_out-")


HOSTILE_ANSWERS = {
    "400-digit rate": b'{"service": "checkout", "default_rate": ' + b"9" * 400 + b"}",
    "huge window": b'{"service": "checkout", "keep": {"window_seconds": 1' + b"0" * 400 + b"}}",
    "deep nesting": b'{"service": "checkout", "patterns": ' + b"[" * 40 + b"]" * 40 + b"}",
    "very deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "over 1 MB": b'{"service": "checkout", "reasoning": "' + b"x" * (1024 * 1024) + b'"}',
    "not JSON": b"\xff\xfe{",
    "a list": b"[1, 2, 3]",
    "huge exponent": b'{"service": "checkout", "default_rate": 1e400}',
    "integer too long to read": b'{"service": "checkout", "default_rate": ' + b"7" * 5000 + b"}",
}


@pytest.mark.parametrize("answer", list(HOSTILE_ANSWERS), ids=list(HOSTILE_ANSWERS))
def test_the_poller_survives_any_answer_and_keeps_the_last_good_policy(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler], answer: str
) -> None:
    logger, app = app_logger
    lipservice.publish(_policy(1, 0.0), '"v1"')
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        refresh_interval=0.05,
    )  # fmt: skip
    assert wait_until(lambda: _version(handle) == 1)
    with lipservice.lock:
        lipservice.policy_body = HOSTILE_ANSWERS[answer]
    errors = handle.stats()["policy_errors"]
    assert wait_until(lambda: handle.stats()["policy_errors"] >= errors + 3)
    assert _version(handle) == 1
    logger.info("Item %d added", 1)
    assert app.records == [], "the last good policy (INFO at 0) is still in force"

    lipservice.publish(_policy(2, 1.0), '"v2"')
    assert wait_until(lambda: _version(handle) == 2), "the poller is still polling"
