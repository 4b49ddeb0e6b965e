"""The `lipservice.policy/v1` document: frozen dataclasses, strict parsing with defaults, JSON in and out."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from lipservice_sdk.severity import SEVERITIES

SCHEMA = "lipservice.policy/v1"
# Bounds on what a document may hold: every value a tenant or a model writes is checked against them.
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_SECONDS = 86_400
PREDICATE_OPS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists")

T = TypeVar("T")


@dataclass(frozen=True)
class PolicyIssue:
    """One problem with a policy document, addressed by a JSON path such as `patterns[3].rate`."""

    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class PolicyFormatError(ValueError):
    """The document does not have the shape of `lipservice.policy/v1`."""

    def __init__(self, issues: Sequence[PolicyIssue]) -> None:
        self.issues: tuple[PolicyIssue, ...] = tuple(issues)
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in self.issues) or "invalid policy")


@dataclass(frozen=True)
class PatternRule:
    id: str
    template: str
    signatures: tuple[str, ...] = ()
    rate: float = 1.0
    reason: str = ""


@dataclass(frozen=True)
class AttributePredicate:
    """Always keep a line whose attribute satisfies `op value`, e.g. `http.status_code gte 500`."""

    attribute: str
    op: str = "gte"
    value: Any = None

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        if self.attribute not in attributes:
            return False
        actual = attributes[self.attribute]
        if self.op == "exists":
            return True
        if self.op == "in":
            return isinstance(self.value, list) and actual in self.value
        if self.op in ("eq", "ne"):
            equal = actual == self.value or str(actual) == str(self.value)
            return equal if self.op == "eq" else not equal
        left, right = _as_number(actual), _as_number(self.value)
        if left is None or right is None:
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}.get(self.op, False)


# A line carrying an exception (stdlib exc_info, structlog's `exception`, OpenTelemetry's `exception.*`) is kept
# whatever its level: in every policy that does not list its own always-keep rules, and so in every generated one.
EXCEPTION_KEEP: tuple[AttributePredicate, ...] = (
    AttributePredicate("exception.type", "exists", None),
    AttributePredicate("exception.message", "exists", None),
    AttributePredicate("exception.stacktrace", "exists", None),
)


@dataclass(frozen=True)
class KeepRules:
    first_per_pattern: bool = True
    window_seconds: int = 300
    attributes: tuple[AttributePredicate, ...] = (AttributePredicate("http.status_code", "gte", 500), *EXCEPTION_KEEP)
    # Also the first line of each template key (signature) per window: a miner may merge kinds that differ only
    # in a literal word (`from RUNNING to FAILED`), and the key still tells them apart.
    first_per_signature: bool = True


@dataclass(frozen=True)
class AnomalyBoost:
    enabled: bool = True
    factor: float = 10.0
    threshold: float = 3.0
    duration_seconds: int = 600


@dataclass(frozen=True)
class ErrorContext:
    enabled: bool = False
    lines_per_trace: int = 50
    seconds: float = 10.0


@dataclass(frozen=True)
class PolicyDocument:
    service: str
    version: int = 0
    etag: str = ""
    generated_by: str = "rules"
    generated_at: str = ""
    severity_rates: Mapping[str, float] = field(default_factory=dict)
    patterns: tuple[PatternRule, ...] = ()
    default_rate: float = 1.0
    keep: KeepRules = field(default_factory=KeepRules)
    anomaly_boost: AnomalyBoost = field(default_factory=AnomalyBoost)
    error_context: ErrorContext = field(default_factory=ErrorContext)
    trace_consistent: bool = True
    reasoning: str = ""
    schema: str = SCHEMA

    @classmethod
    def from_dict(cls, data: Any) -> PolicyDocument:
        return policy_from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return policy_to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def with_etag(self) -> PolicyDocument:
        return replace(self, etag=compute_etag(self))


def compute_etag(document: PolicyDocument) -> str:
    """A content hash of everything except the etag itself, so equal documents have equal etags."""
    body = policy_to_dict(document)
    body.pop("etag", None)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f'"{digest[:32]}"'


def policy_from_json(text: str | bytes) -> PolicyDocument:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise PolicyFormatError(
            [PolicyIssue("$", "too_large", f"a policy document is at most {MAX_DOCUMENT_BYTES} bytes")]
        )
    try:
        data = json.loads(text)
    except RecursionError as exc:
        raise PolicyFormatError([PolicyIssue("$", "too_deep", f"nested deeper than {MAX_DEPTH} levels")]) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise PolicyFormatError([PolicyIssue("$", "invalid_json", f"not JSON: {exc}")]) from exc
    return policy_from_dict(data)


def _too_deep(data: Any, path: str, depth: int) -> str | None:
    """The path of the first value nested deeper than MAX_DEPTH, walked without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, path, depth)]
    while stack:
        value, where, level = stack.pop()
        if isinstance(value, Mapping | list):
            if level >= MAX_DEPTH:
                return where
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            for key, child in items:
                child_path = f"{where}.{key}" if isinstance(value, Mapping) else f"{where}[{key}]"
                stack.append((child, child_path, level + 1))
    return None


def document_bounds_issues(data: Any) -> list[PolicyIssue]:
    """Size and nesting of a parsed document, checked before its fields are read."""
    deep = _too_deep(data, "$", 0)
    if deep is not None:
        return [PolicyIssue(deep, "too_deep", f"nested deeper than {MAX_DEPTH} levels")]
    try:
        size = len(json.dumps(data, separators=(",", ":"), default=str))
    except (TypeError, ValueError, OverflowError):
        return []
    if size > MAX_DOCUMENT_BYTES:
        return [PolicyIssue("$", "too_large", f"a policy document is at most {MAX_DOCUMENT_BYTES} bytes, got {size}")]
    return []


def policy_to_dict(document: PolicyDocument) -> dict[str, Any]:
    return {
        "schema": document.schema,
        "service": document.service,
        "version": document.version,
        "etag": document.etag,
        "generated_by": document.generated_by,
        "generated_at": document.generated_at,
        "severity_rates": {name: float(document.severity_rates[name]) for name in _ordered(document.severity_rates)},
        "patterns": [
            {"id": p.id, "template": p.template, "signatures": list(p.signatures), "rate": p.rate, "reason": p.reason}
            for p in document.patterns
        ],
        "default_rate": document.default_rate,
        "keep": {
            "first_per_pattern": document.keep.first_per_pattern,
            "first_per_signature": document.keep.first_per_signature,
            "window_seconds": document.keep.window_seconds,
            "attributes": [{"attribute": a.attribute, "op": a.op, "value": a.value} for a in document.keep.attributes],
        },
        "anomaly_boost": {
            "enabled": document.anomaly_boost.enabled,
            "factor": document.anomaly_boost.factor,
            "threshold": document.anomaly_boost.threshold,
            "duration_seconds": document.anomaly_boost.duration_seconds,
        },
        "error_context": {
            "enabled": document.error_context.enabled,
            "lines_per_trace": document.error_context.lines_per_trace,
            "seconds": document.error_context.seconds,
        },
        "trace_consistent": document.trace_consistent,
        "reasoning": document.reasoning,
    }


def policy_from_dict(data: Any) -> PolicyDocument:
    """Parse a document, filling defaults for missing optional fields; raise PolicyFormatError listing every issue."""
    issues = document_bounds_issues(data)
    if issues:
        raise PolicyFormatError(issues)
    reader = _Reader()
    document = reader.document(data)
    if reader.issues or document is None:
        raise PolicyFormatError(reader.issues)
    return document


def _ordered(rates: Mapping[str, float]) -> list[str]:
    return sorted(rates, key=lambda name: SEVERITIES.index(name) if name in SEVERITIES else len(SEVERITIES))


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class _Reader:
    """Collects every issue instead of stopping at the first, so an editor can show them all at once."""

    def __init__(self) -> None:
        self.issues: list[PolicyIssue] = []

    def fail(self, path: str, code: str, message: str) -> None:
        self.issues.append(PolicyIssue(path, code, message))

    def obj(self, data: Any, path: str, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any] | None:
        if not isinstance(data, Mapping):
            self.fail(path, "type", f"expected an object, got {type(data).__name__}")
            return None
        for key in data:
            if key not in allowed:
                self.fail(f"{path}.{key}", "unknown_field", f"unknown field {key!r}")
        for key in required:
            if key not in data:
                self.fail(f"{path}.{key}", "required", f"missing required field {key!r}")
        return dict(data)

    def get(self, data: Mapping[str, Any], key: str, path: str, default: T, check: Callable[[Any], T | None]) -> T:
        if key not in data:
            return default
        value = check(data[key])
        if value is None:
            expected = getattr(check, "expected", "a valid value")
            code = getattr(check, "code", "type")
            self.fail(f"{path}.{key}", code, f"expected {expected}, got {_shown(data[key])}")
            return default
        return value

    def document(self, data: Any) -> PolicyDocument | None:
        allowed = [
            "schema", "service", "version", "etag", "generated_by", "generated_at", "severity_rates", "patterns",
            "default_rate", "keep", "anomaly_boost", "error_context", "trace_consistent", "reasoning",
        ]  # fmt: skip
        body = self.obj(data, "$", allowed, required=["service"])
        if body is None:
            return None
        schema = self.get(body, "schema", "$", SCHEMA, _string)
        if schema != SCHEMA:
            self.fail("$.schema", "unsupported_schema", f"expected {SCHEMA!r}, got {schema!r}")
        service = self.get(body, "service", "$", "", _string)
        if "service" in body and not service.strip():
            self.fail("$.service", "empty", "service must not be empty")
        return PolicyDocument(
            schema=SCHEMA,
            service=service,
            version=self.get(body, "version", "$", 0, _non_negative_int),
            etag=self.get(body, "etag", "$", "", _string),
            generated_by=self.get(body, "generated_by", "$", "rules", _string),
            generated_at=self.get(body, "generated_at", "$", "", _string),
            severity_rates=self.severity_rates(body.get("severity_rates"), "$.severity_rates"),
            patterns=self.patterns(body.get("patterns", []), "$.patterns"),
            default_rate=self.get(body, "default_rate", "$", 1.0, _rate),
            keep=self.keep(body.get("keep", {}), "$.keep"),
            anomaly_boost=self.anomaly_boost(body.get("anomaly_boost", {}), "$.anomaly_boost"),
            error_context=self.error_context(body.get("error_context", {}), "$.error_context"),
            trace_consistent=self.get(body, "trace_consistent", "$", True, _boolean),
            reasoning=self.get(body, "reasoning", "$", "", _string),
        )

    def severity_rates(self, data: Any, path: str) -> dict[str, float]:
        rates: dict[str, float] = {}
        if data is None:
            return rates
        body = self.obj(data, path, SEVERITIES)
        for name in SEVERITIES:
            if body is not None and name in body:
                rates[name] = self.get(body, name, path, 1.0, _rate)
        return rates

    def patterns(self, data: Any, path: str) -> tuple[PatternRule, ...]:
        if not isinstance(data, list):
            self.fail(path, "type", f"expected a list, got {type(data).__name__}")
            return ()
        rules: list[PatternRule] = []
        seen: set[str] = set()
        for index, item in enumerate(data):
            item_path = f"{path}[{index}]"
            body = self.obj(item, item_path, ["id", "template", "signatures", "rate", "reason"], ["id", "template"])
            if body is None:
                continue
            pattern_id = self.get(body, "id", item_path, "", _string)
            if pattern_id in seen:
                self.fail(f"{item_path}.id", "duplicate", f"pattern id {pattern_id!r} appears twice")
            seen.add(pattern_id)
            rules.append(
                PatternRule(
                    id=pattern_id,
                    template=self.get(body, "template", item_path, "", _string),
                    signatures=self.get(body, "signatures", item_path, (), _signatures),
                    rate=self.get(body, "rate", item_path, 1.0, _rate),
                    reason=self.get(body, "reason", item_path, "", _string),
                )
            )
        return tuple(rules)

    def keep(self, data: Any, path: str) -> KeepRules:
        body = self.obj(data, path, ["first_per_pattern", "first_per_signature", "window_seconds", "attributes"])
        if body is None:
            return KeepRules()
        defaults = KeepRules()
        predicates = defaults.attributes
        if "attributes" in body:
            predicates = self.predicates(body["attributes"], f"{path}.attributes")
        return KeepRules(
            first_per_pattern=self.get(body, "first_per_pattern", path, True, _boolean),
            first_per_signature=self.get(body, "first_per_signature", path, True, _boolean),
            window_seconds=self.get(body, "window_seconds", path, defaults.window_seconds, _seconds),
            attributes=predicates,
        )

    def predicates(self, data: Any, path: str) -> tuple[AttributePredicate, ...]:
        if not isinstance(data, list):
            self.fail(path, "type", f"expected a list, got {type(data).__name__}")
            return ()
        found: list[AttributePredicate] = []
        for index, item in enumerate(data):
            item_path = f"{path}[{index}]"
            body = self.obj(item, item_path, ["attribute", "op", "value"], ["attribute"])
            if body is None:
                continue
            op = self.get(body, "op", item_path, "gte", _string)
            if op not in PREDICATE_OPS:
                self.fail(f"{item_path}.op", "enum", f"op must be one of {', '.join(PREDICATE_OPS)}, got {op!r}")
            value = body.get("value")
            if value is not None and not isinstance(value, str | int | float | bool | list):
                self.fail(f"{item_path}.value", "type", "value must be a string, number, boolean or list")
            found.append(AttributePredicate(self.get(body, "attribute", item_path, "", _string), op, value))
        return tuple(found)

    def anomaly_boost(self, data: Any, path: str) -> AnomalyBoost:
        body = self.obj(data, path, ["enabled", "factor", "threshold", "duration_seconds"])
        defaults = AnomalyBoost()
        if body is None:
            return defaults
        return AnomalyBoost(
            enabled=self.get(body, "enabled", path, defaults.enabled, _boolean),
            factor=self.get(body, "factor", path, defaults.factor, _at_least_one),
            threshold=self.get(body, "threshold", path, defaults.threshold, _at_least_one),
            duration_seconds=self.get(body, "duration_seconds", path, defaults.duration_seconds, _seconds),
        )

    def error_context(self, data: Any, path: str) -> ErrorContext:
        body = self.obj(data, path, ["enabled", "lines_per_trace", "seconds"])
        defaults = ErrorContext()
        if body is None:
            return defaults
        return ErrorContext(
            enabled=self.get(body, "enabled", path, defaults.enabled, _boolean),
            lines_per_trace=self.get(body, "lines_per_trace", path, defaults.lines_per_trace, _non_negative_int),
            seconds=self.get(body, "seconds", path, defaults.seconds, _seconds_number),
        )


def _expects(text: str, code: str = "type") -> Callable[[Callable[[Any], T | None]], Callable[[Any], T | None]]:
    def mark(check: Callable[[Any], T | None]) -> Callable[[Any], T | None]:
        check.expected = text  # type: ignore[attr-defined]
        check.code = code  # type: ignore[attr-defined]
        return check

    return mark


@_expects("a string")
def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@_expects("true or false")
def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


@_expects("a non-negative integer")
def _non_negative_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@_expects("a finite non-negative number")
def _non_negative_number(value: Any) -> float | None:
    number = _finite(value)
    return number if number is not None and number >= 0 else None


@_expects(f"a whole number of seconds from 0 to {MAX_SECONDS}", "seconds_range")
def _seconds(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SECONDS else None


@_expects(f"a number of seconds from 0 to {MAX_SECONDS}", "seconds_range")
def _seconds_number(value: Any) -> float | None:
    number = _finite(value)
    return number if number is not None and 0 <= number <= MAX_SECONDS else None


@_expects("a number in [0, 1]", "rate_range")
def _rate(value: Any) -> float | None:
    number = _finite(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None


@_expects("a number >= 1")
def _at_least_one(value: Any) -> float | None:
    number = _finite(value)
    return number if number is not None and number >= 1.0 else None


@_expects("a list of strings")
def _signatures(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _shown(value: Any) -> str:
    try:
        return repr(value)[:120]
    except ValueError:  # an integer too long to print
        return "a number too long to show"


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer written with hundreds of digits
        return None
    return number if math.isfinite(number) else None
