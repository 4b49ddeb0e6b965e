"""The distribution: the wheel holds the package and its metadata, and `pip install` into a fresh virtualenv gives a
working SDK that samples offline and keeps errors."""

# ruff: noqa: S603 - the subprocesses run pip and Python interpreters with arguments built here

from __future__ import annotations

import email.message
import email.parser
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

SDK_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lipservice_sdk"
DISTRIBUTION = "lipservice-sdk"
PIP_TIMEOUT = 900
OUTPUT_TAIL = 4000


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((SDK_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _installed(requirement: str) -> bool:
    wanted = Requirement(requirement)
    try:
        return wanted.specifier.contains(metadata.version(wanted.name), prereleases=True)
    except metadata.PackageNotFoundError:
        return False


def _clean_env() -> dict[str, str]:
    """This interpreter's environment without what would let a child see the project's own virtualenv."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}


def _run(command: list[str], *, what: str, cwd: Path) -> str:
    completed = subprocess.run(
        command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-OUTPUT_TAIL:]
        pytest.fail(f"{what} failed (exit {completed.returncode}): {' '.join(command)}\n{output}")
    return completed.stdout


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the SDK's source tree, so that builds leave nothing behind in the working tree."""
    target = tmp_path_factory.mktemp("sdk") / "python"
    shutil.copytree(
        SDK_ROOT,
        target,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    return target


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    requires = _pyproject()["build-system"]["requires"]
    # Without isolation when this environment already satisfies the build backend's requirements; otherwise pip
    # fetches them from the package index into an isolated build environment.
    isolation = ["--no-build-isolation"] if all(_installed(r) for r in requires) else []
    out = tmp_path_factory.mktemp("wheels")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", *isolation]
    what = f"building the wheel (build requirements {requires}; the package index must be reachable)"
    _run([*command, "--wheel-dir", str(out), str(source)], what=what, cwd=out)
    [built] = out.glob("*.whl")
    return built


def _wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))


def test_the_wheel_holds_every_module_and_the_distribution_metadata(wheel: Path) -> None:
    modules = {f"{PACKAGE}/{path.name}" for path in (SDK_ROOT / PACKAGE).glob("*.py")}
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert f"{PACKAGE}/__init__.py" in modules
    assert modules <= names, f"missing from the wheel: {sorted(modules - names)}"
    assert f"{PACKAGE}/py.typed" in names
    project = _pyproject()["project"]
    assert {name.split("/", 1)[0] for name in names} == {PACKAGE, f"{PACKAGE}-{project['version']}.dist-info"}

    meta = _wheel_metadata(wheel)
    assert meta["Name"] == DISTRIBUTION == project["name"]
    assert meta["Version"] == project["version"]
    required = {Requirement(r).name for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r}
    assert required == {Requirement(r).name for r in project["dependencies"]}


SCRIPT = textwrap.dedent(
    """
    import json
    import logging
    from importlib import metadata

    import lipservice_sdk
    from lipservice_sdk import configure_adaptive_logging


    class Remember(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)


    logger = logging.getLogger("shop")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    app = Remember()
    logger.addHandler(app)
    policy = {
        "service": "checkout",
        "version": 4,
        "severity_rates": {"INFO": 0.0},
        "keep": {"first_per_pattern": False, "first_per_signature": False},
    }
    handle = configure_adaptive_logging("checkout", policy=policy, logger=logger)
    for i in range(20):
        logger.info("Item %d added to cart", i)
    logger.error("Payment %d declined", 7)
    stats = handle.stats()
    handle.shutdown(1.0)
    print(json.dumps({
        "file": lipservice_sdk.__file__,
        "version": lipservice_sdk.__version__,
        "distribution_version": metadata.version("lipservice-sdk"),
        "reached_app": [[r.levelname, r.getMessage(), getattr(r, "lipservice.sample_rate", None)] for r in app.records],
        "seen": stats["seen"],
        "kept": stats["kept"],
        "policy_version": stats["policy_version"],
    }))
    """
)


def test_pip_install_into_a_fresh_virtualenv_gives_a_working_sdk(source: Path, wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], what="creating a virtualenv", cwd=tmp_path)
    _run(
        [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", str(source)],
        what=f"pip install {DISTRIBUTION} with its dependencies (the package index must be reachable)",
        cwd=tmp_path,
    )
    script = tmp_path / "app.py"
    script.write_text(SCRIPT, encoding="utf-8")
    output = _run([str(venv / "bin" / "python"), str(script)], what="the SDK in the new virtualenv", cwd=tmp_path)
    report = json.loads(output.strip().splitlines()[-1])

    assert Path(report["file"]).resolve().is_relative_to(venv.resolve())
    version = _wheel_metadata(wheel)["Version"]
    assert report["version"] == report["distribution_version"] == version
    assert report["reached_app"] == [["ERROR", "Payment 7 declined", 1.0]]
    assert (report["seen"], report["kept"], report["policy_version"]) == (21, 1, 4)
