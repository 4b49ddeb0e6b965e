"""The one keep-or-drop decision for a log line under a policy, shared by the SDK, the simulator and the exporters."""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lipservice_sdk.policy import AnomalyBoost, ErrorContext, KeepRules, PatternRule, PolicyDocument
from lipservice_sdk.severity import ALWAYS_KEPT, SEVERITIES, normalize_severity
from lipservice_sdk.signature import WILDCARD, template_matches
from lipservice_sdk.signature import signature as line_signature

RATE_ATTRIBUTE = "lipservice.sample_rate"
PATTERN_ATTRIBUTE = "lipservice.pattern"
UNMATCHED_PREFIX = "sig:"
BOOST_BUCKET_SECONDS = 60.0
BOOST_WARMUP_BUCKETS = 3
# A pattern under one line per second is cheap whatever it does, so a smaller count is never a spike.
BOOST_MIN_LINES = 60

# Reasons, in the order the procedure tests them.
NO_POLICY = "no_policy"
SEVERITY = "severity"
ATTRIBUTE = "attribute"
FIRST_IN_WINDOW = "first_in_window"
PATTERN_RATE = "pattern_rate"
SEVERITY_RATE = "severity_rate"
DEFAULT_RATE = "default_rate"
ERROR_CONTEXT = "error_context"

T = TypeVar("T")
_floor = math.floor
_NEVER = -math.inf
_CANONICAL: frozenset[str] = frozenset(SEVERITIES)


@dataclass(slots=True)
class Decision:
    """One line's verdict; treated as immutable (a plain slotted class, since it is made for every line)."""

    keep: bool
    rate: float
    pattern_id: str
    reason: str
    signature: str = ""
    boosted: bool = False

    def attributes(self) -> dict[str, str | float]:
        """What a kept line carries so that counts can be re-weighted by 1/rate."""
        return {RATE_ATTRIBUTE: self.rate, PATTERN_ATTRIBUTE: self.pattern_id}


def trace_unit(trace_id: str | None) -> float | None:
    """A uniform number in [0, 1) from a trace id: 52 bits of its SHA-256, so Hog's sha256Hex can reproduce it."""
    if trace_id is None:
        return None
    unit = _TRACE_UNITS.get(trace_id)
    if unit is not None:
        return unit
    text = trace_id.strip().lower()
    if not text or set(text) <= {"0", "-"}:
        return None
    unit = int(hashlib.sha256(text.encode()).hexdigest()[:13], 16) / float(1 << 52)
    if len(_TRACE_UNITS) >= _TRACE_UNITS_LIMIT:
        _TRACE_UNITS.clear()
    _TRACE_UNITS[trace_id] = unit
    return unit


# The lines of one trace arrive close together: their unit is computed once.
_TRACE_UNITS: dict[str, float] = {}
_TRACE_UNITS_LIMIT = 4096


def specificity(rule: PatternRule) -> tuple[int, str]:
    """The order in which templates are tried: most literal tokens first, then by id (the server's miner's order)."""
    return (-sum(1 for token in rule.template.split() if token != WILDCARD), rule.id)


_UNKNOWN = object()


class Route:
    """One signature under one policy: its pattern, and the verdicts its lines get when the pattern's own rate
    decides, made once and shared (decisions are immutable)."""

    __slots__ = ("dropped", "first", "kept", "key", "pattern_id", "rule")

    def __init__(self, sig: str, rule: PatternRule | None) -> None:
        self.rule = rule
        self.key = UNMATCHED_PREFIX + sig
        self.pattern_id = pattern_id = self.key if rule is None else rule.id
        self.first = Decision(True, 1.0, pattern_id, FIRST_IN_WINDOW, sig)
        self.kept: Decision | None = None
        self.dropped: Decision | None = None
        if rule is not None:
            rate = min(rule.rate, 1.0)
            self.kept = Decision(True, rate, pattern_id, PATTERN_RATE, sig)
            self.dropped = Decision(False, rate, pattern_id, PATTERN_RATE, sig)


class PatternIndex:
    """Finds a line's policy pattern: by signature first, then by template match, remembered in a bounded cache.

    Made once per policy and swapped with it, it also holds the policy's settings flattened for the per-line path
    (one attribute read each instead of a chain), and what integrations work out once per policy."""

    def __init__(
        self, patterns: tuple[PatternRule, ...], *, cache_size: int = 10_000, policy: PolicyDocument | None = None
    ) -> None:
        self.policy = policy
        keep = policy.keep if policy is not None else KeepRules(attributes=())
        boost = policy.anomaly_boost if policy is not None else AnomalyBoost(enabled=False)
        self.predicates = keep.attributes
        self.window_seconds = keep.window_seconds
        self.first_per_pattern = keep.first_per_pattern
        self.first_per_signature = keep.first_per_signature
        # A boost that can never apply (off, factor <= 1, no duration) is not tracked at all.
        self.boosting = boost.enabled and boost.factor > 1.0 and boost.duration_seconds > 0
        self.boost_factor = boost.factor
        self.boost_threshold = boost.threshold
        self.boost_seconds = boost.duration_seconds
        self.severity_rates = policy.severity_rates if policy is not None else {}
        self.default_rate = policy.default_rate if policy is not None else 1.0
        self.trace_consistent = policy.trace_consistent if policy is not None else True
        # The attributes the keep rules read; an integration may note here where its records carry them.
        self.keep_attributes: tuple[str, ...] = tuple(predicate.attribute for predicate in keep.attributes)
        self.record_keys: tuple[str, ...] | None = None
        self.by_signature: dict[str, PatternRule] = {}
        for rule in patterns:
            for sig in rule.signatures:
                self.by_signature.setdefault(sig, rule)
        # Most specific template first, so a near catch-all such as `<*> <*>` never shadows a precise one.
        self._templates = sorted(patterns, key=specificity)
        self._cache: OrderedDict[str, PatternRule | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.routes: dict[str, Route] = {}  # read lock-free on every line; see route()
        self._route_limit = cache_size + len(self.by_signature)

    def route(self, signature: str, message: str) -> Route:
        """The signature's route, made on its first line (a lookup); `routes` is emptied when it outgrows the cache,
        and routes are rebuilt from the signature index and cache as lines come."""
        found = self.routes.get(signature)
        if found is None:
            found = Route(signature, self.lookup(signature=signature, message=message))
            routes = self.routes
            if len(routes) >= self._route_limit:
                routes.clear()
            routes[signature] = found
        return found

    def lookup(self, *, signature: str, message: str) -> PatternRule | None:
        found = self.by_signature.get(signature)
        if found is not None:
            return found
        cached = self._cache.get(signature, _UNKNOWN)  # a lock-free read; insertion order decides eviction
        if cached is not _UNKNOWN:
            return cached  # type: ignore[return-value]
        rule = next((rule for rule in self._templates if template_matches(rule.template, message)), None)
        with self._lock:
            self._cache[signature] = rule
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rule


class _RateTracker:
    __slots__ = ("baseline", "boost_until", "bucket", "buckets_seen", "count", "ends")

    def __init__(self, bucket: int) -> None:
        self.bucket = bucket
        self.ends = (bucket + 1) * BOOST_BUCKET_SECONDS  # the bucket's end, so the per-line check is one comparison
        self.count = 0
        self.baseline = 0.0
        self.buckets_seen = 0
        self.boost_until = -math.inf


def _count(tracker: _RateTracker, bucket: int) -> None:
    if bucket > tracker.bucket:
        # The baseline is the typical count of a minute in which the pattern runs at all: idle minutes are left
        # out, so a bursty batch job is compared with its usual bursts, not with silence.
        count = tracker.count
        tracker.baseline = count if tracker.buckets_seen == 0 else 0.9 * tracker.baseline + 0.1 * count
        tracker.buckets_seen += 1
        tracker.bucket, tracker.count = bucket, 0
        tracker.ends = (bucket + 1) * BOOST_BUCKET_SECONDS
    tracker.count += 1


def _spiking(pattern: _RateTracker, service: _RateTracker, threshold: float) -> bool:
    """Above `threshold` times its own baseline, and `threshold` times faster than the rest of the service grew:
    when everything bursts together (a batch, a traffic surge) no single pattern is anomalous."""
    if pattern.count < BOOST_MIN_LINES or pattern.count <= threshold * pattern.baseline:
        return False
    rest_baseline = service.baseline - pattern.baseline
    if rest_baseline <= 0 or service.buckets_seen < BOOST_WARMUP_BUCKETS:
        return True
    rest_growth = (service.count - pattern.count) / rest_baseline
    return pattern.count > threshold * pattern.baseline * max(1.0, rest_growth)


class Decider:
    """Applies a policy line by line. State is bounded: first-seen windows and rate trackers are LRU-evicted."""

    def __init__(
        self,
        policy: PolicyDocument | None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        max_tracked: int = 100_000,
        cache_size: int = 10_000,
    ) -> None:
        self._rng = rng or random.Random()
        self._clock = clock
        self._max_tracked = max_tracked
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._first_seen: OrderedDict[str, float] = OrderedDict()  # key -> end of its window
        self._trackers: OrderedDict[str, _RateTracker] = OrderedDict()
        self._service: _RateTracker | None = None
        self.current = PatternIndex((), cache_size=cache_size)  # the policy and its index, swapped as one
        self.set_policy(policy)

    @property
    def policy(self) -> PolicyDocument | None:
        return self.current.policy

    def set_policy(self, policy: PolicyDocument | None) -> None:
        self.current = PatternIndex(policy.patterns if policy else (), cache_size=self._cache_size, policy=policy)

    def decide(
        self,
        *,
        message: str,
        severity: str | int | None = None,
        timestamp: float | None = None,
        trace_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        signature: str | None = None,
    ) -> Decision:
        level = severity if isinstance(severity, str) and severity in _CANONICAL else normalize_severity(severity)
        now = self._clock() if timestamp is None else timestamp
        return self.decide_line(message, level, now, trace_id, attributes, signature)

    def decide_line(
        self,
        message: str,
        level: str,
        now: float,
        trace_id: str | None,
        attributes: Mapping[str, Any] | None,
        signature: str | None = None,
        index: PatternIndex | None = None,
    ) -> Decision:
        """decide() for a severity already in SEVERITIES and a known timestamp: the SDK's per-line path.

        `attributes` None means the line has none a keep rule could read; `index` is `current` as read by a caller
        that looked at its policy first."""
        if index is None:
            index = self.current
        sig = signature or line_signature(message)
        if index.policy is None:
            return Decision(True, 1.0, UNMATCHED_PREFIX + sig, NO_POLICY, sig)
        route = index.routes.get(sig)
        if route is None:
            route = index.route(sig, message)
        pattern_id = route.pattern_id
        boost = 1.0
        if index.boosting:
            # Count the line for its pattern. The usual case, another line of a known pattern in the current minute,
            # bumps the counts without the lock: they only feed the spike heuristic, and a rare lost increment under
            # contention cannot make a decision less safe, only delay a boost by a line.
            tracker = self._trackers.get(pattern_id)
            service = self._service
            if tracker is None or service is None or now >= tracker.ends or now >= service.ends:
                with self._lock:
                    tracker, service = self._tracked(pattern_id, _floor(now / BOOST_BUCKET_SECONDS))
            else:
                tracker.count += 1
                service.count += 1
            if (
                tracker.count >= BOOST_MIN_LINES
                and tracker.buckets_seen >= BOOST_WARMUP_BUCKETS
                and _spiking(tracker, service, index.boost_threshold)
            ):
                tracker.boost_until = now + index.boost_seconds
            if now < tracker.boost_until:
                boost = 1.0 + (index.boost_factor - 1.0) * min(1.0, (tracker.boost_until - now) / index.boost_seconds)
        if level in ALWAYS_KEPT:
            return Decision(True, 1.0, pattern_id, SEVERITY, sig)
        if attributes is not None:
            for predicate in index.predicates:
                if predicate.matches(attributes):
                    return Decision(True, 1.0, pattern_id, ATTRIBUTE, sig)
        # Each mark holds the end of the window in which its key was last seen first: past it, the next line of the
        # key is a first again. Both marks are recorded even when the first already keeps the line, so neither fires
        # twice. Once a key is marked in this window the check is a lock-free read.
        first_seen = self._first_seen
        key = route.key
        first_of_pattern = (
            index.first_per_pattern
            and now >= first_seen.get(pattern_id, _NEVER)
            and self._mark_first(pattern_id, now, index.window_seconds)
        )
        first_of_key = (
            index.first_per_signature
            and now >= first_seen.get(key, _NEVER)
            and self._mark_first(key, now, index.window_seconds)
        )
        if first_of_pattern or first_of_key:
            return route.first
        unit = trace_unit(trace_id) if trace_id is not None and index.trace_consistent else None
        if unit is None:
            unit = self._rng.random()  # one C call: atomic under the interpreter lock
        if boost == 1.0 and route.kept is not None and route.dropped is not None:
            return route.kept if unit < route.kept.rate else route.dropped  # the usual line: nothing is made
        rule = route.rule
        if rule is not None:
            rate, reason = rule.rate, PATTERN_RATE
        elif level in index.severity_rates:
            rate, reason = index.severity_rates[level], SEVERITY_RATE
        else:
            rate, reason = index.default_rate, DEFAULT_RATE
        if boost != 1.0:
            rate *= boost
        if rate > 1.0:
            rate = 1.0
        return Decision(unit < rate, rate, pattern_id, reason, sig, boost > 1.0)

    def _mark_first(self, key: str, now: float, window_seconds: float) -> bool:
        """Mark `key` as seen in the window of `now`; True when this call is the first to do so."""
        with self._lock:
            first_seen = self._first_seen
            if now < first_seen.get(key, _NEVER):
                first_seen.move_to_end(key)
                return False
            first_seen[key] = math.inf if window_seconds <= 0 else (_floor(now / window_seconds) + 1) * window_seconds
            first_seen.move_to_end(key)
            if len(first_seen) > self._max_tracked:
                first_seen.popitem(last=False)
            return True

    def _tracked(self, key: str, bucket: int) -> tuple[_RateTracker, _RateTracker]:
        """Under the lock: the pattern's tracker (made or rolled over to `bucket`) and the service's, both counted."""
        tracker = self._trackers.get(key)
        if tracker is None:
            tracker = self._trackers[key] = _RateTracker(bucket=bucket)
            if len(self._trackers) > self._max_tracked:
                self._trackers.popitem(last=False)
        elif bucket != tracker.bucket:
            self._trackers.move_to_end(key)  # recency at bucket granularity is enough for eviction
        service = self._service
        if service is None:
            service = self._service = _RateTracker(bucket=bucket)
        if bucket > tracker.bucket:
            _count(tracker, bucket)
        else:
            tracker.count += 1
        if bucket > service.bucket:
            _count(service, bucket)
        else:
            service.count += 1
        return tracker, service


class ErrorContextBuffer(Generic[T]):
    """Holds dropped lines per trace for a few seconds; an error in that trace releases them to be sent after all.

    Bounded: at most `lines_per_trace` lines per trace (oldest go first) and `max_traces` traces (oldest go first).
    """

    def __init__(self, settings: ErrorContext, *, max_traces: int = 10_000) -> None:
        self._settings = settings
        self._max_traces = max_traces
        self._held: OrderedDict[str, list[tuple[float, T]]] = OrderedDict()
        self._lock = threading.Lock()

    def hold(self, *, trace_id: str, item: T, now: float) -> list[T]:
        """Keep `item` for the trace; returns what fell out (expired or over a bound), now dropped for good."""
        if not self._settings.enabled or self._settings.lines_per_trace <= 0:
            return [item]
        with self._lock:
            evicted = self._expire(now)
            lines = self._held.setdefault(trace_id, [])
            self._held.move_to_end(trace_id)
            lines.append((now, item))
            if len(lines) > self._settings.lines_per_trace:
                evicted.append(lines.pop(0)[1])
            while len(self._held) > self._max_traces:
                evicted.extend(item for _, item in self._held.popitem(last=False)[1])
            return evicted

    def release(self, *, trace_id: str, now: float) -> list[T]:
        """An error arrived in the trace: everything still held for it, oldest first."""
        with self._lock:
            lines = self._held.pop(trace_id, [])
        horizon = now - self._settings.seconds
        return [item for at, item in lines if at >= horizon]

    def expire(self, now: float) -> list[T]:
        with self._lock:
            return self._expire(now)

    def _expire(self, now: float) -> list[T]:
        horizon = now - self._settings.seconds
        gone: list[T] = []
        # Traces are ordered by last activity, so the expired ones are all at the front.
        while self._held:
            trace_id, lines = next(iter(self._held.items()))
            if lines and lines[-1][0] >= horizon:
                break
            del self._held[trace_id]
            gone.extend(item for _, item in lines)
        return gone
