"""Background threads that mark themselves as SDK threads and come back to life in a forked child."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

_log = logging.getLogger("lipservice_sdk")


class ThreadState(threading.local):
    """A per-thread flag read on every logging call; the class attribute is its default, so a read never raises."""

    # Lines logged on this thread are not sampled: it is an SDK or OpenTelemetry export thread, or the SDK is
    # handling a line on it right now. None: not worked out yet for this thread.
    skip: bool | None = None


thread_state = ThreadState()


class ForkAware(Protocol):
    def after_fork_in_child(self) -> None: ...


_registry: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(obj: ForkAware) -> None:
    _registry.add(obj)


def unregister(obj: ForkAware) -> None:
    _registry.discard(obj)


def _after_fork_in_child() -> None:
    for obj in list(_registry):
        try:
            obj.after_fork_in_child()
        except Exception:  # the child must start even if the SDK cannot
            _log.debug("lipservice: re-initialising after fork failed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def in_sdk_thread() -> bool:
    """True on the SDK's own threads and on the OpenTelemetry export worker, whose log lines must not loop back
    (and, briefly, on any thread while the SDK handles a line there)."""
    known = thread_state.skip
    if known is None:
        # Worked out once per thread: the export worker is recognised by the name OpenTelemetry gives it.
        known = thread_state.skip = threading.current_thread().name.startswith("OtelBatch")
    return known


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon helper thread whose log lines, like those of every SDK thread, are never sampled or exported."""

    def run() -> None:
        thread_state.skip = True
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


class Worker:
    """A daemon thread running `target(stop_event)`; restartable, e.g. in a forked child whose threads are gone."""

    def __init__(self, name: str, target: Callable[[threading.Event], None]) -> None:
        self.name = name
        self._target = target
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.stop_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        thread_state.skip = True
        try:
            self._target(self.stop_event)
        except Exception:
            _log.debug("lipservice: %s thread stopped on an error", self.name, exc_info=True)

    def stop(self, timeout: float) -> bool:
        """Ask the thread to finish and wait up to `timeout`; True when it has."""
        self.stop_event.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(max(0.0, timeout))
        return not thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def restart_in_child(self) -> None:
        self._thread = None
        self.start()
