"""Prometheus metrics of the service itself; one registry, multi-process aware under gunicorn."""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

REQUEST_SECONDS = Histogram(
    "lipservice_http_request_seconds",
    "HTTP request latency by route",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
POLICY_GENERATION_SECONDS = Histogram(
    "lipservice_policy_generation_seconds", "Time to generate and simulate a policy proposal", ["generated_by"]
)
LLM_SECONDS = Histogram("lipservice_llm_request_seconds", "LLM call latency", ["provider"])
LLM_FAILURES = Counter("lipservice_llm_failures_total", "LLM answers replaced by the rule-based policy", ["reason"])
ANALYSIS_LINES = Counter("lipservice_analysis_lines_total", "Log lines analysed", ["method"])
ANALYSIS_SECONDS = Histogram("lipservice_analysis_seconds", "Duration of analysis runs", ["status"])
POLICY_CACHE = Counter("lipservice_policy_cache_total", "Policy cache lookups", ["outcome"])
POLICY_FAST_READS = Counter(
    "lipservice_policy_fast_reads_total", "Policy polls answered in front of Django (lipservice.fastpath)"
)
STATS_INGESTED = Counter("lipservice_stats_entries_total", "SDK stats entries ingested", ["outcome"])
SAVINGS_RATIO = Gauge(
    "lipservice_policy_expected_reduction_ratio",
    "Byte reduction the active policy showed in simulation",
    ["service"],
    multiprocess_mode="mostrecent",
)


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


# Gauges read from app data are set just before a scrape by refreshers the apps register, so this module imports no app.
_REFRESHERS: list[Callable[[], None]] = []


def metrics_refresher_register(refresher: Callable[[], None]) -> None:
    if refresher not in _REFRESHERS:
        _REFRESHERS.append(refresher)


def refresh_gauges() -> None:
    for refresher in _REFRESHERS:
        refresher()
