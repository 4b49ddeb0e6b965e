"""bench/RESULTS.md: each benchmark owns one `## ` section and replaces only that section."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, text: str, *, results: Path = RESULTS) -> None:
    """Replace `section` (its heading up to the next `## `) with `text`, or append it when it is not there yet."""
    current = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    body = text.rstrip("\n") + "\n"
    start = current.find(section + "\n")
    if start < 0:
        results.write_text(current.rstrip("\n") + "\n\n" + body, encoding="utf-8")
        return
    end = current.find("\n## ", start + len(section))
    tail = current[end + 1 :] if end >= 0 else ""
    results.write_text(current[:start] + body + ("\n" + tail if tail else ""), encoding="utf-8")
