"""An application using the real SDK's stats reporter and policy poller against the app, with known totals."""

from __future__ import annotations

import threading
import time

from lipservice_sdk.client import LipServiceClient
from lipservice_sdk.counters import Counters
from lipservice_sdk.policy import PolicyDocument
from lipservice_sdk.policy_source import PolicyPoller
from lipservice_sdk.stats import StatsAggregator, StatsReporter


class SdkTraffic:
    """Counts lines per pattern the way the SDK's runtime does, and posts and polls on short intervals.

    The reporter never gives a batch up (a high attempt limit) and backs off for at most a second, so an outage of a
    few seconds shows as retries and delays, never as loss.
    """

    def __init__(self, *, url: str, key: str, service: str, patterns: list[str]) -> None:
        self.counters = Counters()
        self.aggregator = StatsAggregator(counters=self.counters)
        client = LipServiceClient(base_url=url, api_key=key, user_agent="lipservice-sdk/faults", timeout=3.0)
        self.reporter = StatsReporter(
            client=client,
            aggregator=self.aggregator,
            counters=self.counters,
            service=service,
            sdk={"name": "lipservice-sdk", "version": "faults"},
            interval=0.2,
            max_attempts=10_000,
            backoff_base=0.1,
            backoff_cap=1.0,
        )
        self.poller = PolicyPoller(
            client=client, service=service, apply=self._apply, counters=self.counters, cache=None, interval=0.2
        )
        self.patterns = patterns
        self.policy_versions: list[int] = []
        self.seen = 0
        self.kept = 0
        self.bytes_seen = 0
        self.bytes_kept = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._log_lines, name="faults-app", daemon=True)

    def _apply(self, document: PolicyDocument, etag: str) -> None:
        self.policy_versions.append(document.version)

    def _log_lines(self) -> None:
        line = 0
        while not self._stop.wait(0.005):
            pattern = self.patterns[line % len(self.patterns)]
            kept = int(line % 3 == 0)
            size = 80 + line % 40
            self.aggregator.add(pattern, time.time(), seen=1, kept=kept, size=size)
            with self._lock:
                self.seen += 1
                self.kept += kept
                self.bytes_seen += size
                self.bytes_kept += size * kept
            line += 1

    def start(self) -> None:
        self._thread.start()
        self.reporter.start()
        self.poller.start()

    def counter(self, name: str) -> int:
        return self.counters.get(name)

    def totals(self) -> tuple[int, int, int, int]:
        with self._lock:
            return self.seen, self.kept, self.bytes_seen, self.bytes_kept

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop logging, then let the reporter send everything; True when nothing is left pending."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.poller.stop(5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reporter.flush(timeout=max(0.1, deadline - time.monotonic())):
                break
            time.sleep(0.2)
        return self.reporter.stop(timeout=5) and not self.reporter.pending_batches()
