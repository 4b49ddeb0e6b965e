"""Errors PostHog did not take, kept on disk between attempts and across restarts, and sent straight over OTLP/HTTP.

A spool directory holds one file per batch: a header (magic, record count, SHA-256 of the payload) and the OTLP
`ExportLogsServiceRequest` exactly as it goes on the wire. Files are named by creation time so every process that
shares the directory sends them oldest first; a lock file keeps two processes from sending the same file, and a file
is removed as soon as PostHog has taken it. A file that fails its checksum is removed and counted.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import hashlib
import itertools
import os
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lipservice_sdk.counters import Counters

MAGIC = b"LSSPOOL1"
_HEADER = struct.Struct(">8sI32s")
SUFFIX = ".spool"
# A Retry-After longer than this is read as this: a hostile or broken answer cannot park the errors for days.
MAX_RETRY_AFTER = 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), bounded; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(MAX_RETRY_AFTER, float(value[:8]))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, min(MAX_RETRY_AFTER, when.timestamp() - time.time()))


class OtlpPoster:
    """One OTLP/HTTP logs request, one attempt: the spool's retry loop owns the schedule, so it can honour
    Retry-After (the OpenTelemetry exporter keeps the answer to itself)."""

    def __init__(self, endpoint: str, token: str, timeout: float) -> None:
        self.endpoint = endpoint
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "Authorization": f"Bearer {token}",
        }
        self._timeout = timeout

    def post(self, payload: bytes) -> tuple[str, float | None]:
        """("ok" | "retry" | "rejected", Retry-After seconds). "rejected": PostHog will never take this payload."""
        request = urllib.request.Request(  # noqa: S310 - the endpoint is checked to be http(s) by the config
            self.endpoint, data=gzip.compress(payload), headers=self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                response.read()
                return "ok", None
        except urllib.error.HTTPError as error:
            status = error.code
            retry_after = parse_retry_after(error.headers.get("Retry-After")) if error.headers else None
            error.close()
            if status in (408, 429) or status >= 500:
                return "retry", retry_after
            return "rejected", None
        except (OSError, ValueError):
            return "retry", None


class DiskSpool:
    """Batches of serialized error records in a directory, bounded in bytes, oldest first."""

    def __init__(self, directory: Path, max_bytes: int, counters: Counters) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._counters = counters
        self._seq = itertools.count()
        directory.mkdir(parents=True, exist_ok=True)

    def _files(self) -> list[Path]:
        try:
            return sorted(path for path in self.directory.iterdir() if path.name.endswith(SUFFIX))
        except OSError:
            return []

    def size(self) -> int:
        total = 0
        for path in self._files():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def pending(self) -> int:
        return len(self._files())

    def put(self, payload: bytes, count: int) -> bool:
        """Write one batch; False (nothing written) when it would take the spool past max_bytes or the disk fails."""
        data = _HEADER.pack(MAGIC, count, hashlib.sha256(payload).digest()) + payload
        if self.size() + len(data) > self.max_bytes:
            return False
        name = f"{time.time_ns():020d}-{os.getpid():010d}-{next(self._seq):08d}{SUFFIX}"
        temporary = self.directory / f".{name}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.directory / name)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()
            return False
        return True

    def oldest(self) -> tuple[Path, bytes, int] | None:
        """The oldest readable batch (path, payload, record count); unreadable files are removed and counted."""
        for path in self._files():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError:
                self._discard(path)
                continue
            if len(data) >= _HEADER.size:
                magic, count, digest = _HEADER.unpack_from(data)
                payload = data[_HEADER.size :]
                if magic == MAGIC and hashlib.sha256(payload).digest() == digest:
                    return path, payload, count
            self._discard(path)
        return None

    def _discard(self, path: Path) -> None:
        self._counters.add("spool_corrupt")
        with contextlib.suppress(OSError):
            path.unlink()

    @staticmethod
    def remove(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    @contextlib.contextmanager
    def sending(self) -> Iterator[bool]:
        """Hold the directory's send lock (True) or learn another process holds it (False)."""
        handle: IO[bytes] | None = None
        try:
            handle = open(self.directory / ".lock", "ab")  # noqa: SIM115 - held across the yield
        except OSError:
            yield False
            return
        try:
            try:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # no flock on this platform: one process per spool directory
                pass
            except OSError:
                yield False
                return
            yield True
        finally:
            handle.close()
