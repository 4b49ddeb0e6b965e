"""Recommendations: dollars from bytes at the team's price, errors never counted as savings, small things left alone."""

from __future__ import annotations

from decimal import Decimal

import pytest

from insights.engine.recommend import PatternVolume, recommend

GB = 10**9


def volume(
    pid: str, gb: float, *, lines: int = 10**6, errors: int = 0, severity: str = "DEBUG", rate: float = 1.0
) -> PatternVolume:
    return PatternVolume(pid, f"template {pid}", int(gb * GB), lines, errors, severity, rate)


def test_savings_and_roi_of_one_percent_sampling() -> None:
    [rec] = recommend(
        volumes=[volume("noisy", 31), volume("rest", 69, severity="ERROR")], price_per_gb=Decimal("0.5"), currency="USD"
    )
    assert rec.pattern == "noisy" and rec.suggested_rate == 0.01
    assert rec.bytes_share == pytest.approx(0.31)
    assert rec.savings_per_month == Decimal("15.345")  # 31 GB * 0.99 * $0.50
    assert rec.cost_after_per_month == Decimal("0.155")
    assert rec.roi == pytest.approx(99)
    assert "is 31% of bytes" in rec.message and "USD 15.35/month" in rec.message


def test_error_bytes_are_not_counted_as_savings() -> None:
    [rec] = recommend(
        volumes=[volume("mixed", 10, errors=500_000, severity="INFO")], price_per_gb=Decimal(1), currency="USD"
    )
    # Half the lines are errors (kept at any rate): only 5 GB is sampled, at 5%.
    assert rec.savings_per_month == Decimal("4.75")
    assert "keeps all errors" in rec.message


@pytest.mark.parametrize(
    "item",
    [
        volume("rare", 10, lines=50),
        volume("errors-only", 10, lines=100, errors=100, severity="ERROR"),
        volume("already-low", 10, rate=0.01),
        volume("tiny", 0.001),
    ],
)
def test_nothing_to_recommend(item: PatternVolume) -> None:
    others = volume("big-error", 100, severity="ERROR")
    assert [r.pattern for r in recommend(volumes=[item, others], price_per_gb=Decimal(1), currency="USD")] == []


def test_ranked_by_savings_and_limited() -> None:
    volumes = [volume(f"p{i}", 5 + i) for i in range(6)]
    ranked = recommend(volumes=volumes, price_per_gb=Decimal(1), currency="USD", limit=3)
    assert [r.pattern for r in ranked] == ["p5", "p4", "p3"]


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        (
            'Traceback (most recent call last): File "<STR>", line <NUM>, in tasks_handler '
            "payments.errors.GatewayUnavailable: gateway <*> returned <NUM>",
            "payments.errors.GatewayUnavailable: gateway <*> returned <NUM>",
        ),
        ("GET /healthz 200 <NUM>ms", "GET /healthz 200 <NUM>ms"),
        ("x" * 200, "x" * 119 + "…"),
    ],
)
def test_headlines_show_the_exception_of_a_traceback(template: str, shown: str) -> None:
    from insights.engine.explain import headline

    assert headline(template) == shown


def test_small_savings_still_show_a_number() -> None:
    [rec] = recommend(
        volumes=[volume("noisy", 0.01), volume("e", 0.1, severity="ERROR")], price_per_gb=Decimal("0.5"), currency="USD"
    )
    assert "saves USD 0.0050/month" in rec.message
