"""Exit 1 when a development-only package (pyproject's `dev` extra) is installed: `make run` installs none of them."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return normalise(match.group(1))


def dev_only_packages(pyproject: Path = ROOT / "pyproject.toml") -> set[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    runtime = {requirement_name(r) for r in project["dependencies"]}
    dev = {requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    return dev - runtime


def installed_packages() -> set[str]:
    return {normalise(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]}


def main() -> int:
    found = sorted(dev_only_packages() & installed_packages())
    if found:
        print(f"development-only packages in the runtime environment: {', '.join(found)}", file=sys.stderr)
        return 1
    print(f"runtime environment holds none of the {len(dev_only_packages())} development-only packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
