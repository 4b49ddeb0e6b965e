"""Runs frontend/scripts/hog.mjs (PostHog's parser and VM) from pytest; fails in CI, skips elsewhere, without Node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import service_unavailable

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
SCRIPT = FRONTEND / "scripts" / "hog.mjs"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        service_unavailable("Node.js", "`node` is not on PATH")
    if not (FRONTEND / "node_modules" / "@posthog" / "hogql-parser").is_dir():
        service_unavailable("@posthog/hogql-parser", "run `npm ci` in frontend/")
    return str(node)


def hog(command: str, request: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [_node(), str(SCRIPT), command],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=FRONTEND,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"hog.mjs {command} failed: {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def parse(code: str) -> dict[str, Any]:
    return hog("parse", {"code": code})


def run(code: str, *, inputs: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    return run_counted(code, inputs=inputs, records=records)[0]


def run_counted(
    code: str, *, inputs: dict[str, Any], records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any] | None], list[int], list[int]]:
    """Each record's result, and the work it took: VM operations, and regexes compiled (`match` calls)."""
    result = hog("run", {"code": code, "inputs": inputs, "globals": [{"record": r} for r in records]})
    if not result["ok"]:
        raise AssertionError(f"Hog did not parse: {result['error']}")
    return result["results"], result["ops"], result["regexes"]


def functions(code: str) -> dict[str, Any]:
    """The functions a program calls, and those of them PostHog's VM does not provide."""
    return hog("functions", {"code": code})


def run_batches(
    code: str, *, inputs: dict[str, Any], records: list[dict[str, Any]], batch_size: int = 100
) -> tuple[list[dict[str, Any] | None], list[dict[str, Any]]]:
    """Records in batches held to PostHog's per-message budget as well as the per-record one (hog.mjs `batch`):
    fails when a batch stays over 100 ms five runs in a row. Returns the results and each batch's accepted run."""
    request = {"code": code, "inputs": inputs, "globals": [{"record": r} for r in records], "batch_size": batch_size}
    result = hog("batch", request)
    if not result["ok"]:
        raise AssertionError(f"Hog did not parse: {result['error']}")
    return result["results"], result["batches"]
