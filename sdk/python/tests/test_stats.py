"""Per-pattern stats: the wire body, idempotent retries with one batch_id, 413 splits, and bounded memory."""

from __future__ import annotations

import itertools
import logging
import string
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lipservice_fakes import LipServiceServer, ListHandler, StatsReply, dead_url, running, wait_until
from lipservice_sdk import __version__, configure_adaptive_logging
from lipservice_sdk.client import LipServiceClient
from lipservice_sdk.counters import Counters
from lipservice_sdk.stats import OVERFLOW_PATTERN, StatsAggregator, StatsReporter, minute_label

API_KEY = "lsk_test"
POLICY = {
    "service": "checkout",
    "severity_rates": {"INFO": 0.5},
    "patterns": [{"id": "p-cart", "template": "Item <*> added to cart", "rate": 0.5}],
    "keep": {"first_per_pattern": False, "first_per_signature": False},
}


@pytest.fixture
def lipservice() -> Iterator[LipServiceServer]:
    with running(LipServiceServer(API_KEY)) as server:
        yield server


def _words(count: int) -> list[str]:
    """Distinct all-letter words, which no masking rule touches, so each makes its own template."""
    letters = string.ascii_lowercase
    return ["".join(w) for w in itertools.islice(itertools.product(letters, repeat=3), count)]


def test_stats_body_counts_seen_and_kept_lines_and_bytes(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, policy=POLICY,
        logger=logger, stats_interval=60, refresh_interval=60,
    )  # fmt: skip
    for i in range(100):
        logger.info("Item %d added to cart", i, extra={"trace_id": f"{i + 1:032x}"})
    logger.error("Cart service unavailable")
    assert handle.flush(5.0)

    [post] = lipservice.stats_posts
    assert uuid.UUID(post["batch_id"]).version == 4
    assert (post["service"], post["sdk"]) == ("checkout", {"name": "lipservice-sdk", "version": __version__})
    by_pattern = {entry["pattern"]: entry for entry in post["stats"]}
    cart = by_pattern["p-cart"]
    kept = handle.stats()["kept"] - 1
    size = sum(len(f"Item {i} added to cart") for i in range(100))
    assert (cart["seen"], cart["kept"], cart["bytes_seen"]) == (100, kept, size)
    assert 0 < cart["kept"] < 100
    assert 0 < cart["bytes_kept"] < size
    error = next(entry for pattern, entry in by_pattern.items() if pattern.startswith("sig:"))
    assert (error["seen"], error["kept"], error["bytes_kept"]) == (1, 1, len("Cart service unavailable"))
    assert cart["minute"].endswith(":00Z") and len(cart["minute"]) == len("2026-11-23T05:00:00Z")


def test_failed_posts_are_retried_with_the_same_batch_id_and_counted_once(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    lipservice.stats_script = [
        StatsReply(500),
        StatsReply(429, {"Retry-After": "0"}),
        StatsReply(503, {"Retry-After": "0"}, record=True),  # stored, but the acknowledgement is lost
        StatsReply(202),
    ]
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        stats_interval=60, refresh_interval=60,
    )  # fmt: skip
    for i in range(30):
        logger.info("Item %d added to cart", i)
    assert not handle.flush(5.0)  # the 500: one attempt per flush, the thread retries from here
    assert wait_until(lambda: len(lipservice.stats_posts) >= 4)

    ids = [post["batch_id"] for post in lipservice.stats_posts]
    assert len(ids) == 4 and len(set(ids)) == 1
    assert len(lipservice.accepted) == 1
    assert lipservice.accepted_totals()["seen"] == 30
    # The server has the fourth post before the SDK has read the answer to it.
    assert wait_until(lambda: handle.stats()["stats_batches_sent"] == 1)
    stats = handle.stats()
    assert (stats["stats_retries"], stats["stats_batches_sent"], stats["stats_pending_batches"]) == (3, 1, 0)


def test_a_too_large_batch_is_split(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    lipservice.stats_script = [StatsReply(413)]
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        stats_interval=60, refresh_interval=60,
    )  # fmt: skip
    for word in _words(10):
        logger.info("Event %s happened", word)
    assert handle.flush(5.0)
    sizes = [len(post["stats"]) for post in lipservice.stats_posts]
    assert sizes == [10, 5, 5]
    assert len(lipservice.accepted) == 2 and lipservice.accepted_totals()["seen"] == 10


def test_batches_hold_at_most_1000_entries(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        stats_interval=60, refresh_interval=60,
    )  # fmt: skip
    for word in _words(2500):
        logger.info("Event %s happened", word)
    assert handle.flush(10.0)
    assert sorted(len(post["stats"]) for post in lipservice.stats_posts) == [500, 1000, 1000]
    assert lipservice.accepted_totals()["seen"] == 2500


def test_pending_stats_are_bounded_oldest_first() -> None:
    counters = Counters()
    aggregator = StatsAggregator(counters=counters)
    client = LipServiceClient(base_url=dead_url(), api_key=API_KEY, user_agent="test", timeout=0.5)
    reporter = StatsReporter(
        client=client, aggregator=aggregator, counters=counters, service="checkout",
        sdk={"name": "lipservice-sdk", "version": __version__}, max_pending_entries=1500,
    )  # fmt: skip
    for i in range(2500):
        aggregator.add(f"p{i:04d}", 0.0, seen=1, kept=0, size=10)
    reporter.collect()
    pending = reporter.pending_batches()
    assert [len(batch.entries) for batch in pending] == [1000, 500]
    assert pending[0].entries[0]["pattern"] == "p1000"
    assert counters.get("stats_dropped_entries") == 1000
    assert not reporter.flush(2.0)
    assert reporter.pending_batches()[0].batch_id == pending[0].batch_id


def test_the_aggregator_folds_new_keys_into_overflow_when_full() -> None:
    counters = Counters()
    aggregator = StatsAggregator(max_keys=2, counters=counters)
    for pattern in ("a", "b", "c", "d"):
        aggregator.add(pattern, 120.5, seen=2, kept=1, size=3)
    aggregator.add("a", 125.0, seen=1, kept=1, size=4)
    rows = {row["pattern"]: row for row in aggregator.drain()}
    assert set(rows) == {"a", "b", OVERFLOW_PATTERN}
    assert (rows["a"]["seen"], rows["a"]["kept"], rows["a"]["bytes_seen"], rows["a"]["bytes_kept"]) == (3, 2, 10, 7)
    assert rows[OVERFLOW_PATTERN]["seen"] == 4
    assert rows["a"]["minute"] == minute_label(120) == "1970-01-01T00:02:00Z"
    assert counters.get("stats_overflow") == 2
    assert aggregator.drain() == []


def test_shutdown_posts_what_is_left(
    lipservice: LipServiceServer, tmp_path: Path, app_logger: tuple[logging.Logger, ListHandler]
) -> None:
    logger, _ = app_logger
    handle = configure_adaptive_logging(
        "checkout", lipservice_url=lipservice.url, api_key=API_KEY, cache_dir=tmp_path, logger=logger,
        stats_interval=60, refresh_interval=60,
    )  # fmt: skip
    for i in range(12):
        logger.warning("Disk %d%% full", 80 + i)
    handle.shutdown(5.0)
    assert lipservice.accepted_totals()["seen"] == 12
    logger.warning("Disk %d%% full", 99)  # detached: neither counted nor posted
    assert handle.stats()["seen"] == 12


def _reporter(
    url: str, counters: Counters, aggregator: StatsAggregator | None = None, max_attempts: int = 10
) -> StatsReporter:
    client = LipServiceClient(base_url=url, api_key=API_KEY, user_agent="test", timeout=2.0)
    return StatsReporter(
        client=client, aggregator=aggregator or StatsAggregator(counters=counters), counters=counters,
        service="checkout", sdk={"name": "lipservice-sdk", "version": __version__}, max_attempts=max_attempts,
    )  # fmt: skip


def _accepted_losses(lipservice: LipServiceServer) -> dict[str, int]:
    totals: dict[str, int] = {}
    for payload in lipservice.accepted.values():
        for name, amount in payload.get("losses", {}).items():
            totals[name] = totals.get(name, 0) + amount
    return totals


def test_delivery_losses_are_reported_once_even_without_lines(lipservice: LipServiceServer) -> None:
    counters = Counters()
    reporter = _reporter(lipservice.url, counters)
    counters.add("errors_lost", 3)
    counters.add("shed", 40)
    counters.add("exported", 7)  # delivered: not a loss
    lipservice.stats_script = [StatsReply(503, {"Retry-After": "0"}, record=True)]  # stored, acknowledgement lost
    assert not reporter.flush(2.0)
    assert reporter.flush(2.0)
    first, again = lipservice.stats_posts
    assert first == again and first["stats"] == [] and first["losses"] == {"errors_lost": 3, "shed": 40}
    assert reporter.flush(2.0) and len(lipservice.stats_posts) == 2  # nothing new: nothing posted
    counters.add("errors_lost", 2)
    counters.add("spool_corrupt")
    assert reporter.flush(2.0)
    assert lipservice.stats_posts[-1]["losses"] == {"errors_lost": 2, "spool_corrupt": 1}
    assert _accepted_losses(lipservice) == {"errors_lost": 5, "shed": 40, "spool_corrupt": 1}


def test_losses_of_a_batch_given_up_on_go_with_the_next_one(lipservice: LipServiceServer) -> None:
    counters = Counters()
    reporter = _reporter(lipservice.url, counters)
    counters.add("export_failed", 12)
    counters.add("shed_errors", 1)
    lipservice.stats_script = [StatsReply(400)]
    assert reporter.flush(2.0)  # refused for good: dropped
    assert _accepted_losses(lipservice) == {}
    counters.add("export_failed", 3)
    assert reporter.flush(2.0)
    refused, sent = lipservice.stats_posts
    assert refused["batch_id"] != sent["batch_id"]
    assert sent["losses"] == {"export_failed": 15, "shed_errors": 1}
    assert _accepted_losses(lipservice) == {"export_failed": 15, "shed_errors": 1}


def test_losses_of_a_batch_that_may_have_been_stored_are_not_sent_again(lipservice: LipServiceServer) -> None:
    counters = Counters()
    reporter = _reporter(lipservice.url, counters, max_attempts=1)
    counters.add("errors_lost", 6)
    lipservice.stats_script = [StatsReply(503, record=True)]  # stored, then the answer says otherwise
    assert reporter.flush(2.0)  # one attempt allowed: given up on
    assert reporter.flush(2.0)
    assert len(lipservice.stats_posts) == 1
    assert _accepted_losses(lipservice) == {"errors_lost": 6}


def test_losses_alone_wait_while_another_batch_does() -> None:
    counters = Counters()
    reporter = _reporter(dead_url(), counters)
    counters.add("shed", 5)
    reporter.collect()
    for _ in range(3):  # LipService unreachable: the next drains add no batch of their own
        counters.add("shed", 5)
        reporter.collect()
    [batch] = reporter.pending_batches()
    assert batch.losses == {"shed": 5}


def test_losses_ride_on_the_first_batch_of_a_drain_and_survive_a_split(lipservice: LipServiceServer) -> None:
    counters = Counters()
    aggregator = StatsAggregator(counters=counters)
    reporter = _reporter(lipservice.url, counters, aggregator)
    for i in range(2500):
        aggregator.add(f"p{i:04d}", 0.0, seen=1, kept=1, size=10)
    counters.add("errors_lost", 4)
    lipservice.stats_script = [StatsReply(413)]
    assert reporter.flush(10.0)
    posts = lipservice.stats_posts
    assert [len(post["stats"]) for post in posts] == [1000, 500, 500, 1000, 500]
    assert [post.get("losses") for post in posts] == [{"errors_lost": 4}, {"errors_lost": 4}, None, None, None]
    assert _accepted_losses(lipservice) == {"errors_lost": 4}


def test_a_forked_child_reports_only_its_own_losses() -> None:
    counters = Counters()
    reporter = _reporter(dead_url(), counters)
    counters.add("shed", 9)
    reporter.collect()
    counters.reset_after_fork()
    reporter.after_fork_in_child()
    counters.add("shed", 2)
    reporter.collect()
    [batch] = reporter.pending_batches()
    reporter.stop(0.2)  # the child's reporter thread, started by the fork hook
    assert batch.losses == {"shed": 2}
