"""Headless Chromium (Debian's /usr/bin/chromium, driven by playwright) against pytest-django's live server."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread

from tests.conftest import service_unavailable
from tests.e2e.dashboard_data import DashboardData, build_dashboard_data

# Playwright's sync API keeps an event loop on the main thread for the rest of the session; the ORM calls made
# between page actions, and later tests' database teardown, are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


class SerializedWSGIServer(ThreadedWSGIServer):
    """One request at a time: with in-memory SQLite every server thread shares the test's one connection, and a
    browser's parallel requests would otherwise interleave transactions on it and deadlock."""

    _lock = threading.Lock()

    def set_app(self, application: Any) -> None:
        def serialized(environ: Any, start_response: Any) -> Any:
            with self._lock:
                return application(environ, start_response)

        super().set_app(serialized)


LiveServerThread.server_class = SerializedWSGIServer  # type: ignore[attr-defined]  # django-stubs omit it

CHROMIUM = os.environ.get("LIPSERVICE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("LIPSERVICE_E2E_SCREENSHOTS", "")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable("playwright", "pip install playwright (the driver only; the browser is Debian's chromium)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        service_unavailable("Chromium", f"{CHROMIUM} not found: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Session:
    page: Any
    base_url: str
    problems: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        self.page.goto(self.base_url + path)
        return self.page

    @contextlib.contextmanager
    def database(self) -> Iterator[None]:
        """For the test's own ORM calls: once the page's requests have settled, and never while the server handles
        one (with in-memory SQLite the server's threads share the test's connection)."""
        self.page.wait_for_load_state("networkidle")
        with SerializedWSGIServer._lock:
            yield

    def shot(self, name: str) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def dashboard_data(transactional_db: None) -> DashboardData:
    return build_dashboard_data()


@contextlib.contextmanager
def browser_session(chromium: Any, live_server: Any, user: Any) -> Iterator[Session]:
    """A logged-in page for `user` that records console errors, page errors and HTTP errors as problems."""
    client = Client()
    client.force_login(user)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    host = live_server.url.split("//", 1)[1].split(":", 1)[0]
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    page = context.new_page()
    current = Session(page=page, base_url=live_server.url)
    page.on(
        "console",
        lambda msg: current.problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    page.on("pageerror", lambda error: current.problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda response: (
            current.problems.append(f"HTTP {response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        yield current
    finally:
        context.close()


@pytest.fixture
def session(chromium: Any, live_server: Any, dashboard_data: DashboardData) -> Iterator[Session]:
    with browser_session(chromium, live_server, dashboard_data.user) as current:
        yield current
