"""An LLM-written policy publishes itself only if no pattern's kept share falls under a tenth of the rule policy's."""

from __future__ import annotations

from typing import Any

import pytest

from policies.simulation import share_floor_failure


def _report(rows: dict[str, tuple[int, int]], method: str = "replay") -> dict[str, Any]:
    return {
        "method": method,
        "per_pattern": [{"pattern_id": k, "lines": n, "kept": kept} for k, (n, kept) in rows.items()],
    }


RULES = _report({"health": (1000, 100), "login": (500, 500), "rare": (3, 3)})


@pytest.mark.parametrize(
    ("llm", "failing"),
    [
        ({"health": (1000, 10), "login": (500, 50), "rare": (3, 3)}, None),
        ({"health": (1000, 9), "login": (500, 500), "rare": (3, 3)}, "health"),
        ({"health": (1000, 100), "login": (500, 0), "rare": (3, 3)}, "login"),
        ({"health": (1000, 100), "login": (500, 500)}, "rare"),
    ],
)
def test_kept_share_floor(llm: dict[str, tuple[int, int]], failing: str | None) -> None:
    failure = share_floor_failure(_report(llm), RULES)
    assert (failure is None) if failing is None else (failure is not None and f"pattern {failing} " in failure)


def test_without_a_replay_there_is_nothing_to_compare_and_the_policy_waits() -> None:
    assert share_floor_failure(_report({}, "estimate"), RULES) is not None
