"""Where the SDK's policy comes from: the disk cache at start-up, then a background poller using ETags."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from lipservice_sdk._fork import Worker
from lipservice_sdk.client import LipServiceClient
from lipservice_sdk.counters import Counters
from lipservice_sdk.policy import PolicyDocument, PolicyFormatError, policy_from_dict

_log = logging.getLogger("lipservice_sdk")
JITTER = 0.1


def default_cache_dir() -> Path:
    """The user cache directory of the platform, e.g. ~/.cache/lipservice on Linux."""
    try:
        return _user_cache_dir()
    except (RuntimeError, KeyError):  # no home directory (some containers): fall back to the temp directory
        return Path(tempfile.gettempdir()) / f"lipservice-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def _user_cache_dir() -> Path:
    if sys.platform == "win32":
        root = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(root) / "lipservice" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "lipservice"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lipservice"


class PolicyCache:
    """The last policy fetched, one JSON file per (service, server), replaced atomically."""

    def __init__(self, directory: Path, *, service: str, source: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", service)[:100] or "service"
        digest = hashlib.sha256(source.encode()).hexdigest()[:10]
        self.path = directory / f"{safe}-{digest}.policy.json"

    def load(self) -> tuple[PolicyDocument, str] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return policy_from_dict(data["policy"]), str(data.get("etag", ""))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, PolicyFormatError):
            _log.warning("lipservice: ignoring unreadable policy cache %s", self.path)
            return None

    def save(self, document: PolicyDocument, etag: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"etag": etag, "policy": document.to_dict()}, sort_keys=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".policy-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class PolicyPoller:
    """Fetches the service's policy now and every ~interval seconds (with jitter) on a daemon thread."""

    def __init__(
        self,
        *,
        client: LipServiceClient,
        service: str,
        apply: Callable[[PolicyDocument, str], None],
        counters: Counters,
        cache: PolicyCache | None,
        interval: float,
        etag: str = "",
    ) -> None:
        self._client = client
        self._service = service
        self._apply = apply
        self._counters = counters
        self._cache = cache
        self.interval = max(0.05, interval)
        self.etag = etag
        self._first_delay = 0.0
        self._warned = False
        self._lock = threading.Lock()
        self.worker = Worker("lipservice-policy", self._loop)

    def start(self) -> None:
        self._first_delay = 0.0
        self.worker.start()

    def stop(self, timeout: float) -> bool:
        return self.worker.stop(timeout)

    def after_fork_in_child(self) -> None:
        # The child inherits the parent's policy and ETag: no need for N workers to fetch at the same instant.
        self._lock = threading.Lock()
        self._first_delay = self._jittered(self.interval)
        self.worker.restart_in_child()

    def _jittered(self, seconds: float) -> float:
        return seconds * random.uniform(1 - JITTER, 1 + JITTER)

    def _loop(self, stop: threading.Event) -> None:
        delay = self._first_delay
        while not stop.wait(delay):
            try:
                delay = self.poll_once()
            except Exception:  # whatever an answer holds, the poller keeps the last good policy and keeps polling
                self._counters.add("policy_errors")
                if not self._warned:
                    self._warned = True
                    _log.warning(
                        "lipservice: a policy answer could not be used; keeping the last good policy", exc_info=True
                    )
                delay = self._jittered(self.interval)

    def poll_once(self) -> float:
        """One fetch; returns the delay until the next one."""
        with self._lock:
            self._counters.add("policy_fetches")
            result = self._client.fetch_policy(self._service, etag=self.etag)
            if result.outcome == "changed" and result.document is not None:
                self.etag = result.etag
                self._apply(result.document, result.etag)
                self._counters.add("policy_updates")
                self._save(result.document, result.etag)
            elif result.outcome == "not_modified":
                self._counters.add("policy_not_modified")
            elif result.outcome == "missing":
                self._counters.add("policy_missing")
            else:
                self._counters.add("policy_errors")
                _log.debug("lipservice: policy fetch failed: %s", result.detail)
            return self._jittered(max(self.interval, result.retry_after or 0.0))

    def _save(self, document: PolicyDocument, etag: str) -> None:
        if self._cache is None:
            return
        try:
            self._cache.save(document, etag)
        except OSError:
            self._counters.add("policy_cache_errors")
            _log.debug("lipservice: could not write the policy cache", exc_info=True)
