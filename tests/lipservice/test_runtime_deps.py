"""`make run` installs the runtime dependencies only: no test, lint, browser or load-testing package comes with them."""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _runtime_deps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runtime_deps", ROOT / ".ci" / "runtime_deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _closure(name: str, module: ModuleType) -> set[str]:
    """Every distribution that installing `name` without extras pulls in (environment markers taken as true)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = module.normalise(todo.pop())
        if current in seen:
            continue
        seen.add(current)
        try:
            requirements = metadata.requires(current) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(module.requirement_name(r) for r in requirements if "extra ==" not in r.split(";", 1)[-1])
    return seen


def test_the_runtime_closure_holds_no_development_only_package() -> None:
    module = _runtime_deps()
    dev_only = module.dev_only_packages()
    assert {"pytest", "playwright", "chdb", "locust", "schemathesis"} <= dev_only
    closure = _closure("lipservice", module)
    assert "django" in closure and "tqdm" in closure
    assert closure & dev_only == set()


def test_make_run_installs_without_the_dev_extra() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run = re.search(r"^run: (.*)$", makefile, re.M)
    assert run is not None and run.group(1).split() == ["install"]
    recipe = re.search(r"^\$\(VENV\)/\.installed: .*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None
    assert "pip install" in recipe.group(1) and "[dev]" not in recipe.group(1)
    for target in ("test", "lint"):
        line = re.search(rf"^{target}: (.*)$", makefile, re.M)
        assert line is not None and "install-dev" in line.group(1).split()


def test_the_check_names_the_development_packages_it_finds() -> None:
    # This suite runs in the development environment, so the check must refuse it.
    module = _runtime_deps()
    assert "pytest" in module.installed_packages() & module.dev_only_packages()
    assert module.main() == 1
