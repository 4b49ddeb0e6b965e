"""OpenAPI post-processing: every operation documents the shared error body for the errors it can return."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
_DESCRIPTIONS = {
    "400": "Invalid input; `details` holds the field errors.",
    "401": "Missing, malformed or revoked API key.",
    "403": "Not allowed for this key or user.",
    "404": "No such object (or service named in the body) in this team.",
    "413": "Payload too large.",
    "429": "Throttled; see the Retry-After header.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            public_op = operation.get("security") == [{}] or path.endswith(("/health", "/ready"))
            codes = [] if public_op else ["400", "401", "403", "404", "429"]
            if method in {"post", "put", "patch"}:
                codes.extend(["400", "413"])
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
                )
                if code == "429":
                    responses[code].setdefault(
                        "headers", {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
                    )
    return result
