"""Fork safety (gunicorn --preload): the child restarts the SDK's threads and exports; the parent carries on."""

# ruff: noqa: S106 - fake tokens for local fake servers; the subprocess runs this interpreter

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from lipservice_fakes import LipServiceServer, ListHandler, OtlpServer, running, wait_until
from lipservice_sdk import configure_adaptive_logging

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs os.fork")


def test_child_logs_exports_and_exits_cleanly_while_the_parent_keeps_working(tmp_path: Path) -> None:
    logger = logging.getLogger("fork.app")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    app = ListHandler()
    logger.addHandler(app)
    with running(OtlpServer("phc_test")) as otlp, running(LipServiceServer("lsk_test")) as lipservice:
        lipservice.publish({"service": "worker", "version": 5}, '"v5"')
        handle = configure_adaptive_logging(
            "worker", posthog_token="phc_test", posthog_host=otlp.url, lipservice_url=lipservice.url,
            api_key="lsk_test", cache_dir=tmp_path, logger=logger, export_delay=0.05, stats_interval=0.1,
        )  # fmt: skip
        assert wait_until(lambda: handle.policy is not None and handle.policy.version == 5)
        logger.info("parent before fork")
        assert handle.flush(5.0)

        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                threads_alive = handle._reporter is not None and handle._reporter.worker.is_alive()
                for i in range(5):
                    logger.info("child line %d", i)
                flushed = handle.flush(5.0)
                stats = handle.stats()
                handle.shutdown(5.0)
                ok = threads_alive and flushed and stats["exported"] == 5 and stats["policy_version"] == 5
                code = 0 if ok else 3
            finally:
                os._exit(code)

        logger.info("parent after fork")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert handle.flush(5.0)
        bodies = otlp.bodies()
        assert bodies.count("parent before fork") == 1
        assert sorted(b for b in bodies if b.startswith("child")) == [f"child line {i}" for i in range(5)]
        assert "parent after fork" in bodies
        assert handle.stats()["exported"] == 2
        seen = lipservice.accepted_totals()["seen"]
        assert seen >= 5  # the child posted its own stats before exiting
    for existing in list(logger.handlers):
        logger.removeHandler(existing)
