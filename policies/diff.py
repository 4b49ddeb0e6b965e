"""A structural diff of two policy documents, field by field and pattern by pattern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_IDENTITY = {"version", "etag", "generated_at", "patterns", "severity_rates"}


def policy_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    severity = {
        name: {"from": old.get("severity_rates", {}).get(name), "to": new.get("severity_rates", {}).get(name)}
        for name in sorted(set(old.get("severity_rates", {})) | set(new.get("severity_rates", {})))
        if old.get("severity_rates", {}).get(name) != new.get("severity_rates", {}).get(name)
    }
    before = {p["id"]: p for p in old.get("patterns", [])}
    after = {p["id"]: p for p in new.get("patterns", [])}
    changed = []
    for pid in sorted(set(before) & set(after)):
        fields = {
            key: {"from": before[pid].get(key), "to": after[pid].get(key)}
            for key in ("rate", "template", "reason")
            if before[pid].get(key) != after[pid].get(key)
        }
        if fields:
            changed.append({"id": pid, "template": after[pid].get("template", ""), "changes": fields})
    other = {
        key: {"from": old.get(key), "to": new.get(key)}
        for key in sorted(set(old) | set(new))
        if key not in _IDENTITY and old.get(key) != new.get(key)
    }
    return {
        "severity_rates": severity,
        "patterns_added": [after[pid] for pid in sorted(set(after) - set(before))],
        "patterns_removed": [before[pid] for pid in sorted(set(before) - set(after))],
        "patterns_changed": changed,
        "changed_fields": other,
        "identical": not (severity or changed or other or set(after) ^ set(before)),
    }


def same_rates(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when two documents would make the same decisions for the same patterns (wording aside)."""
    diff = policy_diff(old, new)
    return not (
        diff["severity_rates"]
        or diff["patterns_added"]
        or diff["patterns_removed"]
        or any("rate" in change["changes"] for change in diff["patterns_changed"])
        or {k: v for k, v in diff["changed_fields"].items() if k not in {"reasoning", "generated_by"}}
    )
