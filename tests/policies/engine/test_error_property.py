"""For random policies that pass the checker and random records, no record that reads as ERROR or FATAL is dropped
by the SDK's decision, the simulator or the Hog transformation."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lipservice_sdk.decision import Decider
from lipservice_sdk.policy import PolicyDocument, policy_from_dict
from lipservice_sdk.severity import ALWAYS_KEPT, read_severity

from policies.engine.checker import find_violations
from policies.engine.pricing import flat_pricing
from policies.engine.simulator import ReplayLine, simulate

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[3] / "sdk" / "testdata" / "severity_vectors.json").read_text()
)["vectors"]
WORDS = ("GET", "/health", "<NUM>", "<*>", "payment", "failed", "user", "<ID>", "ok", "retry", "timeout", "done")
RAW = ("GET", "/health", "200", "12", "payment", "failed", "user", "u-17", "ok", "retry", "timeout", "done", "x")
TEXTS = [v["text"] for v in VECTORS] + ["info", "debug", "", None, "INFO+2", "note"]

rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
templates = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
policies = st.builds(
    lambda sev, default, pats, first, window, trace: {
        "service": "svc",
        "severity_rates": {name: rate for name, rate in zip(("TRACE", "DEBUG", "INFO", "WARN"), sev, strict=True)},
        "default_rate": default,
        "patterns": [{"id": f"p{i}", "template": t, "rate": r} for i, (t, r) in enumerate(pats)],
        "keep": {"first_per_pattern": first, "first_per_signature": first, "window_seconds": window},
        "trace_consistent": trace,
    },
    st.tuples(rates, rates, rates, rates),
    rates,
    st.lists(st.tuples(templates, rates), max_size=8),
    st.booleans(),
    st.integers(min_value=0, max_value=600),
    st.booleans(),
)
records = st.lists(
    st.tuples(
        st.lists(st.sampled_from(RAW), min_size=1, max_size=6).map(" ".join),
        st.sampled_from(TEXTS),
        st.one_of(st.none(), st.integers(min_value=-3, max_value=40)),
        st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)),
    ),
    min_size=1,
    max_size=40,
)


def _checked(data: dict[str, Any]) -> PolicyDocument | None:
    try:
        document = policy_from_dict(data)
    except ValueError:
        return None
    return None if find_violations(document) else document


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, records)
def test_no_error_is_dropped_by_the_sdk_decision_or_the_simulator(
    data: dict[str, Any], lines: list[tuple[str, str | None, int | None, str | None]]
) -> None:
    document = _checked(data)
    assume(document is not None)
    assert document is not None
    decider = Decider(document, rng=random.Random(0), clock=lambda: 0.0)
    replayed = []
    for index, (message, text, number, trace) in enumerate(lines):
        level = read_severity(text, number)
        decision = decider.decide(message=message, severity=level, trace_id=trace, timestamp=float(index))
        if level in ALWAYS_KEPT:
            assert decision.keep, (message, text, number)
        replayed.append(ReplayLine(message, text or "", float(index), trace_id=trace, severity_number=number))
    report = simulate(policy=document, records=replayed, pricing=flat_pricing(0.1))
    assert report.errors_kept == report.errors_total
    assert report.errors_total == sum(1 for _, t, n, _ in lines if read_severity(t, n) in ALWAYS_KEPT)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(policies, min_size=1, max_size=4), records)
def test_no_error_is_dropped_by_the_hog_transformation(
    drawn: list[dict[str, Any]], lines: list[tuple[str, str | None, int | None, str | None]]
) -> None:
    from policies.exporters.hog import hog_source, policy_to_hog_policy
    from tests.posthog_app import hog_runner

    documents = [d for d in (_checked({**data, "service": f"svc{i}"}) for i, data in enumerate(drawn)) if d]
    assume(documents)
    sent = []
    for document in documents:
        for message, text, number, trace in lines:
            record: dict[str, Any] = {"service_name": document.service, "body": message, "attributes": {}}
            if text is not None:
                record["severity_text"] = text
            if number is not None:
                record["severity_number"] = number
            if trace is not None:
                record["trace_id"] = trace
            sent.append(record)
    inputs = {"policies": {d.service: policy_to_hog_policy(d) for d in documents}}
    results = hog_runner.run(hog_source(), inputs=inputs, records=sent)
    for record, result in zip(sent, results, strict=True):
        if read_severity(record.get("severity_text"), record.get("severity_number")) in ALWAYS_KEPT:
            assert result is not None, record
