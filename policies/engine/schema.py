"""JSON Schema (draft 2020-12) of the `lipservice.policy/v1` document, for the API and for editors."""

from __future__ import annotations

from typing import Any

from lipservice_sdk.policy import PREDICATE_OPS, SCHEMA
from lipservice_sdk.severity import SEVERITIES

from policies.engine.checker import GENERATED_BY

_RATE: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}

POLICY_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://lipservice.dev/schemas/policy-v1.json",
    "title": SCHEMA,
    "type": "object",
    "additionalProperties": False,
    "required": ["service"],
    "properties": {
        "schema": {"const": SCHEMA},
        "service": {"type": "string", "minLength": 1},
        "version": {"type": "integer", "minimum": 0},
        "etag": {"type": "string"},
        "generated_by": {"type": "string", "pattern": "^(" + GENERATED_BY.pattern + ")$"},
        "generated_at": {"type": "string"},
        "severity_rates": {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: ({"const": 1} if name in ("ERROR", "FATAL") else _RATE) for name in SEVERITIES},
        },
        "patterns": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "template"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "template": {"type": "string"},
                    "signatures": {"type": "array", "items": {"type": "string"}},
                    "rate": _RATE,
                    "reason": {"type": "string"},
                },
            },
        },
        "default_rate": _RATE,
        "keep": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "first_per_pattern": {"const": True},
                "first_per_signature": {"type": "boolean"},
                "window_seconds": {"type": "integer", "minimum": 0},
                "attributes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["attribute"],
                        "properties": {
                            "attribute": {"type": "string"},
                            "op": {"enum": list(PREDICATE_OPS)},
                            "value": {"type": ["string", "number", "boolean", "array", "null"]},
                        },
                    },
                },
            },
        },
        "anomaly_boost": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "factor": {"type": "number", "minimum": 1},
                "threshold": {"type": "number", "minimum": 1},
                "duration_seconds": {"type": "integer", "minimum": 0},
            },
        },
        "error_context": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "lines_per_trace": {"type": "integer", "minimum": 0},
                "seconds": {"type": "number", "minimum": 0},
            },
        },
        "trace_consistent": {"type": "boolean"},
        "reasoning": {"type": "string"},
    },
}
