/** The keep-or-drop decision for a line under a policy, the same procedure as lipservice_sdk.decision. */

import { type PatternRule, type PolicyDocument, predicateMatches } from "./policy.js";
import { PythonRandom } from "./random.js";
import { type Severity, isAlwaysKept, isSeverity, normalizeSeverity } from "./severity.js";
import { WILDCARD, signature as lineSignature, splitPython, templateMatches } from "./signature.js";
import { sha256Words } from "./sha256.js";

export const RATE_ATTRIBUTE = "lipservice.sample_rate";
export const PATTERN_ATTRIBUTE = "lipservice.pattern";
export const UNMATCHED_PREFIX = "sig:";
const BOOST_BUCKET_SECONDS = 60;
const BOOST_WARMUP_BUCKETS = 3;
const BOOST_MIN_LINES = 60;

export type Reason =
  | "no_policy"
  | "severity"
  | "attribute"
  | "first_in_window"
  | "pattern_rate"
  | "severity_rate"
  | "default_rate"
  | "error_context"
  | "sdk_error";

export interface Decision {
  readonly keep: boolean;
  readonly rate: number;
  readonly patternId: string;
  readonly reason: Reason;
  readonly signature: string;
  readonly boosted: boolean;
}

function decision(keep: boolean, rate: number, patternId: string, reason: Reason, sig: string, boosted = false): Decision {
  return { keep, rate, patternId, reason, signature: sig, boosted };
}

const TRACE_UNITS = new Map<string, number | null>();
const TRACE_UNITS_LIMIT = 4096;
const ZEROS = /^[0-]*$/;

/** A uniform number in [0, 1) from a trace id: 52 bits of SHA-256 of its trimmed, lower-cased text (as in Python,
 * and reproducible with Hog's sha256Hex), so Python and JavaScript services keep the same traces. */
export function traceUnit(traceId: string | null | undefined): number | null {
  if (traceId === null || traceId === undefined) return null;
  const cached = TRACE_UNITS.get(traceId);
  if (cached !== undefined) return cached;
  const text = traceId.trim().toLowerCase();
  let unit: number | null = null;
  if (text && !ZEROS.test(text)) {
    const words = sha256Words(text);
    unit = (words[0]! * 1048576 + (words[1]! >>> 12)) / 4503599627370496;
  }
  if (TRACE_UNITS.size >= TRACE_UNITS_LIMIT) TRACE_UNITS.clear();
  TRACE_UNITS.set(traceId, unit);
  return unit;
}

/** Most literal tokens first, then by id: the order templates are tried in. */
function specificity(a: PatternRule, b: PatternRule): number {
  const literal = (rule: PatternRule) => splitPython(rule.template).filter((t) => t !== WILDCARD).length;
  const diff = literal(b) - literal(a);
  if (diff !== 0) return diff;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

class Route {
  readonly key: string;
  readonly patternId: string;
  readonly first: Decision;
  readonly kept: Decision | null = null;
  readonly dropped: Decision | null = null;

  constructor(sig: string, readonly rule: PatternRule | null) {
    this.key = UNMATCHED_PREFIX + sig;
    this.patternId = rule === null ? this.key : rule.id;
    this.first = decision(true, 1, this.patternId, "first_in_window", sig);
    if (rule !== null) {
      const rate = Math.min(rule.rate, 1);
      this.kept = decision(true, rate, this.patternId, "pattern_rate", sig);
      this.dropped = decision(false, rate, this.patternId, "pattern_rate", sig);
    }
  }
}

/** A policy made ready for the per-line path: its patterns by signature and by template, with a bounded cache. */
export class PatternIndex {
  readonly bySignature = new Map<string, PatternRule>();
  readonly templates: PatternRule[];
  readonly routes = new Map<string, Route>();
  private readonly cache = new Map<string, PatternRule | null>();
  private readonly routeLimit: number;
  readonly boosting: boolean;

  constructor(readonly policy: PolicyDocument | null, private readonly cacheSize = 10_000) {
    for (const rule of policy?.patterns ?? []) {
      for (const sig of rule.signatures) if (!this.bySignature.has(sig)) this.bySignature.set(sig, rule);
    }
    this.templates = [...(policy?.patterns ?? [])].sort(specificity);
    this.routeLimit = cacheSize + this.bySignature.size;
    const boost = policy?.anomaly_boost;
    this.boosting = !!boost && boost.enabled && boost.factor > 1 && boost.duration_seconds > 0;
  }

  route(sig: string, message: string): Route {
    let found = this.routes.get(sig);
    if (found === undefined) {
      found = new Route(sig, this.lookup(sig, message));
      if (this.routes.size >= this.routeLimit) this.routes.clear();
      this.routes.set(sig, found);
    }
    return found;
  }

  lookup(sig: string, message: string): PatternRule | null {
    const found = this.bySignature.get(sig);
    if (found !== undefined) return found;
    if (this.cache.has(sig)) return this.cache.get(sig)!;
    const rule = this.templates.find((candidate) => templateMatches(candidate.template, message)) ?? null;
    this.cache.set(sig, rule);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return rule;
  }
}

class RateTracker {
  ends: number;
  count = 0;
  baseline = 0;
  bucketsSeen = 0;
  boostUntil = -Infinity;
  constructor(public bucket: number) {
    this.ends = (bucket + 1) * BOOST_BUCKET_SECONDS;
  }
  roll(bucket: number): void {
    if (bucket > this.bucket) {
      this.baseline = this.bucketsSeen === 0 ? this.count : 0.9 * this.baseline + 0.1 * this.count;
      this.bucketsSeen += 1;
      this.bucket = bucket;
      this.count = 0;
      this.ends = (bucket + 1) * BOOST_BUCKET_SECONDS;
    }
    this.count += 1;
  }
}

function spiking(pattern: RateTracker, service: RateTracker, threshold: number): boolean {
  if (pattern.count < BOOST_MIN_LINES || pattern.count <= threshold * pattern.baseline) return false;
  const restBaseline = service.baseline - pattern.baseline;
  if (restBaseline <= 0 || service.bucketsSeen < BOOST_WARMUP_BUCKETS) return true;
  const restGrowth = (service.count - pattern.count) / restBaseline;
  return pattern.count > threshold * pattern.baseline * Math.max(1, restGrowth);
}

export interface DeciderOptions {
  /** A seed makes the draws for lines without a trace id those of Python's random.Random(seed). */
  seed?: number | bigint | null;
  clock?: () => number;
  maxTracked?: number;
  cacheSize?: number;
}

export interface DecideInput {
  message: string;
  severity?: unknown;
  /** Seconds since the epoch. */
  timestamp?: number;
  traceId?: string | null;
  attributes?: Record<string, unknown> | null;
  signature?: string;
}

/** Applies a policy line by line; first-seen windows and rate trackers are bounded (least recent go first). */
export class Decider {
  current: PatternIndex;
  private readonly draw: () => number;
  private readonly clock: () => number;
  private readonly maxTracked: number;
  private readonly cacheSize: number;
  private readonly firstSeen = new Map<string, number>();
  private readonly trackers = new Map<string, RateTracker>();
  private service: RateTracker | null = null;

  constructor(policy: PolicyDocument | null, options: DeciderOptions = {}) {
    if (options.seed !== undefined && options.seed !== null) {
      const rng = new PythonRandom(options.seed);
      this.draw = () => rng.random();
    } else {
      this.draw = Math.random;
    }
    this.clock = options.clock ?? (() => Date.now() / 1000);
    this.maxTracked = options.maxTracked ?? 100_000;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.current = new PatternIndex(policy, this.cacheSize);
  }

  get policy(): PolicyDocument | null {
    return this.current.policy;
  }

  setPolicy(policy: PolicyDocument | null): void {
    this.current = new PatternIndex(policy, this.cacheSize);
  }

  decide(input: DecideInput): Decision {
    const level = isSeverity(input.severity) ? input.severity : normalizeSeverity(input.severity);
    const now = input.timestamp ?? this.clock();
    return this.decideLine(input.message, level, now, input.traceId ?? null, input.attributes ?? null, input.signature);
  }

  /** decide() for a bucketed severity and a known time (seconds): the SDK's per-line path. */
  decideLine(
    message: string,
    level: Severity,
    now: number,
    traceId: string | null,
    attributes: Record<string, unknown> | null,
    sig?: string,
  ): Decision {
    const index = this.current;
    sig = sig || lineSignature(message);
    const policy = index.policy;
    if (policy === null) return decision(true, 1, UNMATCHED_PREFIX + sig, "no_policy", sig);
    const route = index.routes.get(sig) ?? index.route(sig, message);
    const patternId = route.patternId;
    let boost = 1;
    if (index.boosting) {
      const settings = policy.anomaly_boost;
      let tracker = this.trackers.get(patternId);
      let service = this.service;
      if (tracker === undefined || service === null || now >= tracker.ends || now >= service.ends) {
        [tracker, service] = this.tracked(patternId, Math.floor(now / BOOST_BUCKET_SECONDS));
      } else {
        tracker.count += 1;
        service.count += 1;
      }
      if (
        tracker.count >= BOOST_MIN_LINES &&
        tracker.bucketsSeen >= BOOST_WARMUP_BUCKETS &&
        spiking(tracker, service, settings.threshold)
      ) {
        tracker.boostUntil = now + settings.duration_seconds;
      }
      if (now < tracker.boostUntil) {
        boost = 1 + (settings.factor - 1) * Math.min(1, (tracker.boostUntil - now) / settings.duration_seconds);
      }
    }
    if (isAlwaysKept(level)) return decision(true, 1, patternId, "severity", sig);
    if (attributes !== null) {
      for (const predicate of policy.keep.attributes) {
        if (predicateMatches(predicate, attributes)) return decision(true, 1, patternId, "attribute", sig);
      }
    }
    const window = policy.keep.window_seconds;
    const firstOfPattern = policy.keep.first_per_pattern && this.markFirst(patternId, now, window);
    const firstOfKey = policy.keep.first_per_signature && this.markFirst(route.key, now, window);
    if (firstOfPattern || firstOfKey) return route.first;
    let unit = traceId !== null && policy.trace_consistent ? traceUnit(traceId) : null;
    if (unit === null) unit = this.draw();
    if (boost === 1 && route.kept !== null && route.dropped !== null) {
      return unit < route.kept.rate ? route.kept : route.dropped;
    }
    let rate: number;
    let reason: Reason;
    const severityRate = policy.severity_rates[level];
    if (route.rule !== null) {
      rate = route.rule.rate;
      reason = "pattern_rate";
    } else if (severityRate !== undefined) {
      rate = severityRate;
      reason = "severity_rate";
    } else {
      rate = policy.default_rate;
      reason = "default_rate";
    }
    if (boost !== 1) rate *= boost;
    if (rate > 1) rate = 1;
    return decision(unit < rate, rate, patternId, reason, sig, boost > 1);
  }

  /** Mark `key` as seen in the window of `now`; true when this is the first time in that window. */
  private markFirst(key: string, now: number, windowSeconds: number): boolean {
    const seen = this.firstSeen;
    const ends = seen.get(key);
    if (ends !== undefined && now < ends) return false;
    seen.delete(key);
    seen.set(key, windowSeconds <= 0 ? Infinity : (Math.floor(now / windowSeconds) + 1) * windowSeconds);
    if (seen.size > this.maxTracked) seen.delete(seen.keys().next().value!);
    return true;
  }

  private tracked(key: string, bucket: number): [RateTracker, RateTracker] {
    let tracker = this.trackers.get(key);
    if (tracker === undefined) {
      tracker = new RateTracker(bucket);
      this.trackers.set(key, tracker);
      if (this.trackers.size > this.maxTracked) this.trackers.delete(this.trackers.keys().next().value!);
    } else if (bucket !== tracker.bucket) {
      this.trackers.delete(key);
      this.trackers.set(key, tracker);
    }
    if (this.service === null) this.service = new RateTracker(bucket);
    tracker.roll(bucket);
    this.service.roll(bucket);
    return [tracker, this.service];
  }
}
