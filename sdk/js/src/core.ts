/** The handle shared by every platform: one decision per line, counts, error context, policy refresh and stats.
 * Where kept lines go (an OTLP pipeline in Node, posthog-js in a browser) and where the policy is cached are
 * plugged in by the entry point. Nothing here throws into the host or waits on the network in a logging call. */

import { ErrorContextBuffer } from "./buffer.js";
import { LipServiceClient } from "./client.js";
import { Counters } from "./counters.js";
import { type Decision, Decider, PATTERN_ATTRIBUTE, RATE_ATTRIBUTE } from "./decision.js";
import { type PolicyDocument, parsePolicy } from "./policy.js";
import { type Severity, isAlwaysKept, severityNumber } from "./severity.js";
import { StatsAggregator, StatsReporter, messageSize } from "./stats.js";

export const SDK_NAME = "@lipservice/sdk";
export const SDK_VERSION = "0.1.0";
export const CONTEXT_ATTRIBUTE = "lipservice.error_context";
export const FALLBACK_PATTERN = "lipservice:unknown";

export type Attributes = Record<string, unknown>;

/** One log line as the SDK sees it, whatever library it came from. */
export interface LogEvent {
  message: string;
  level: Severity;
  /** The level as the library spelled it; the bucket's name when absent. */
  severityText?: string;
  /** Seconds since the epoch. */
  timestamp: number;
  traceId?: string | null;
  spanId?: string | null;
  traceFlags?: number;
  attributes?: Attributes;
}

/** A kept line on its way out. */
export interface OutRecord {
  body: string;
  severityText: string;
  severityNumber: number;
  timestampMs: number;
  attributes: Attributes;
  traceId?: string | null;
  spanId?: string | null;
  traceFlags?: number;
  error: boolean;
}

export interface Sink {
  emit(record: OutRecord): boolean;
  flush(deadlineMs: number): Promise<boolean>;
  shutdown(deadlineMs: number): Promise<boolean>;
}

export interface PolicyCache {
  load(): { policy: PolicyDocument; etag: string } | null;
  save(policy: PolicyDocument, etag: string): void;
}

export type PolicySource = PolicyDocument | Record<string, unknown> | string;

export interface AdaptiveOptions {
  serviceName: string;
  /** Base URL of LipService: the policy is fetched from it (ETag) and stats are posted to it. */
  lipserviceUrl?: string;
  /** A LipService API key, sent as a Bearer token. */
  apiKey?: string;
  /** The PostHog project token (phc_...): kept lines are sent to PostHog's OTLP endpoint with it. */
  posthogToken?: string;
  posthogHost?: string;
  /** An offline policy: a document, or (in Node) a path to a `lipservice.policy/v1` JSON file. */
  policy?: PolicySource | null;
  refreshIntervalMs?: number;
  statsIntervalMs?: number;
  requestTimeoutMs?: number;
  exportTimeoutMs?: number;
  maxQueueSize?: number;
  exportBatchSize?: number;
  exportDelayMs?: number;
  maxContextLines?: number;
  maxStatKeys?: number;
  maxPendingStats?: number;
  /** How many kept errors are held for re-sending while PostHog's endpoint is unreachable. */
  maxSpooledErrors?: number;
  exitTimeoutMs?: number;
  /** Seeds the draws for lines without a trace id (Python's random.Random(seed) sequence). */
  seed?: number | null;
}

export interface ResolvedOptions extends Required<Omit<AdaptiveOptions, "lipserviceUrl" | "apiKey" | "posthogToken" | "policy" | "seed">> {
  lipserviceUrl?: string;
  apiKey?: string;
  posthogToken?: string;
  seed: number | null;
}

export const DEFAULT_POSTHOG_HOST = "https://us.i.posthog.com";

export function resolveOptions(options: AdaptiveOptions): ResolvedOptions {
  if (typeof options?.serviceName !== "string" || !options.serviceName.trim()) {
    throw new TypeError("serviceName must be a non-empty string");
  }
  const resolved: ResolvedOptions = {
    serviceName: options.serviceName,
    lipserviceUrl: options.lipserviceUrl,
    apiKey: options.apiKey,
    posthogToken: options.posthogToken,
    posthogHost: options.posthogHost ?? DEFAULT_POSTHOG_HOST,
    refreshIntervalMs: options.refreshIntervalMs ?? 60_000,
    statsIntervalMs: options.statsIntervalMs ?? 30_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    exportTimeoutMs: options.exportTimeoutMs ?? 10_000,
    maxQueueSize: options.maxQueueSize ?? 2048,
    exportBatchSize: options.exportBatchSize ?? 512,
    exportDelayMs: options.exportDelayMs ?? 1_000,
    maxContextLines: options.maxContextLines ?? 10_000,
    maxStatKeys: options.maxStatKeys ?? 20_000,
    maxPendingStats: options.maxPendingStats ?? 50_000,
    maxSpooledErrors: options.maxSpooledErrors ?? 10_000,
    exitTimeoutMs: options.exitTimeoutMs ?? 3_000,
    seed: options.seed ?? null,
  };
  for (const name of ["refreshIntervalMs", "statsIntervalMs", "requestTimeoutMs", "exportTimeoutMs", "exportDelayMs"] as const) {
    if (!(resolved[name] > 0)) throw new RangeError(`${name} must be positive`);
  }
  for (const name of ["maxQueueSize", "exportBatchSize", "maxStatKeys", "maxPendingStats"] as const) {
    if (!(resolved[name] >= 1)) throw new RangeError(`${name} must be at least 1`);
  }
  if (!(resolved.maxContextLines >= 0) || !(resolved.exitTimeoutMs >= 0) || !(resolved.maxSpooledErrors >= 0)) {
    throw new RangeError("maxContextLines, maxSpooledErrors and exitTimeoutMs must not be negative");
  }
  return resolved;
}

export interface Platform {
  sink?: Sink | null;
  /** Makes the sink once the handle's options and counters exist. */
  sinkFactory?: (options: ResolvedOptions, counters: Counters) => Sink;
  cache?: PolicyCache | null;
  /** Reads a policy file (Node); a browser has none. */
  readPolicyFile?: (path: string) => string;
}

function policyOf(source: PolicySource | null | undefined, readFile?: (path: string) => string): PolicyDocument | null {
  if (source === null || source === undefined) return null;
  if (typeof source === "string") {
    if (!readFile) throw new TypeError("a policy file needs Node; pass the document instead");
    return parsePolicy(JSON.parse(readFile(source)));
  }
  return parsePolicy(source);
}

const warn = (message: string, error?: unknown): void => {
  try {
    console.warn(`lipservice: ${message}${error === undefined ? "" : `: ${String(error)}`}`);
  } catch {
    /* a console that throws must not break the host either */
  }
};

/** The handle returned by configureAdaptiveLogging. Integrations call `decide` and `record`; neither throws. */
export class AdaptiveLogging {
  readonly counters = new Counters();
  readonly options: ResolvedOptions;
  decider: Decider;
  policyEtag = "";
  private readonly buffer: ErrorContextBuffer<[LogEvent, Decision]>;
  private readonly sink: Sink | null;
  private readonly cache: PolicyCache | null;
  readonly tally: StatsAggregator;
  private readonly reporter: StatsReporter | null = null;
  private readonly client: LipServiceClient | null = null;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private polling: Promise<void> | null = null;
  private closed = false;
  private policyWarned = false;
  private readonly readPolicyFile: ((path: string) => string) | undefined;

  constructor(options: AdaptiveOptions, platform: Platform = {}) {
    this.options = resolveOptions(options);
    this.readPolicyFile = platform.readPolicyFile;
    const o = this.options;
    if (o.lipserviceUrl !== undefined) {
      this.client = new LipServiceClient(o.lipserviceUrl, o.apiKey, o.requestTimeoutMs, `${SDK_NAME}/${SDK_VERSION}`);
    }
    this.sink = platform.sink ?? (platform.sinkFactory ? platform.sinkFactory(o, this.counters) : null);
    this.cache = o.lipserviceUrl !== undefined ? (platform.cache ?? null) : null;
    let initial: PolicyDocument | null = null;
    const cached = this.loadCache();
    if (cached !== null) {
      initial = cached.policy;
      this.policyEtag = cached.etag;
    } else {
      try {
        initial = policyOf(options.policy, platform.readPolicyFile);
      } catch (error) {
        this.counters.add("policy_errors");
        warn("ignoring the policy given to configureAdaptiveLogging", error);
      }
    }
    this.decider = new Decider(initial, { seed: o.seed });
    const context = initial?.error_context;
    this.buffer = new ErrorContextBuffer(
      this.counters,
      context?.enabled ? context.lines_per_trace : 0,
      context?.enabled ? context.seconds : 0,
      o.maxContextLines,
    );
    this.tally = new StatsAggregator(this.counters, o.maxStatKeys, this.client !== null);
    if (this.client !== null) {
      this.reporter = new StatsReporter(
        this.client,
        this.tally,
        this.counters,
        o.serviceName,
        { name: SDK_NAME, version: SDK_VERSION },
        o.statsIntervalMs,
        o.maxPendingStats,
      );
    }
  }

  private loadCache(): { policy: PolicyDocument; etag: string } | null {
    try {
      return this.cache?.load() ?? null;
    } catch {
      return null;
    }
  }

  /** Start the policy poller and the stats reporter (a first policy fetch starts at once, in the background). */
  start(): void {
    if (this.client === null) return;
    this.reporter?.start();
    this.schedulePoll(0);
  }

  get serviceName(): string {
    return this.options.serviceName;
  }

  get policy(): PolicyDocument | null {
    return this.decider.policy;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Kept lines are sent to PostHog from here. */
  get exporting(): boolean {
    return this.sink !== null && !this.closed;
  }

  /** Replace the policy by hand (the poller replaces it again when the server has a new one); throws
   * PolicyFormatError for an invalid document. */
  setPolicy(policy: PolicySource | null): void {
    const document = policyOf(policy, this.readPolicyFile);
    this.applyPolicy(document, document?.etag ?? "");
  }

  applyPolicy(document: PolicyDocument | null, etag: string): void {
    this.decider.setPolicy(document);
    this.policyEtag = etag;
    if (document?.error_context.enabled) {
      this.buffer.configure(document.error_context.lines_per_trace, document.error_context.seconds);
    } else {
      this.counters.add("context_expired", this.buffer.clear());
      this.buffer.configure(0, 0);
    }
  }

  /** The policy's decision for a line; on any internal failure, keep it. */
  decide(event: LogEvent): Decision {
    try {
      const decision = this.decider.decideLine(
        event.message,
        event.level,
        event.timestamp,
        event.traceId ?? null,
        event.attributes ?? null,
      );
      if (!decision.keep && isAlwaysKept(event.level)) return { ...decision, keep: true, rate: 1 };
      return decision;
    } catch {
      return this.decisionFailed();
    }
  }

  decisionFailed(): Decision {
    this.noteInternalError();
    return { keep: true, rate: 1, patternId: FALLBACK_PATTERN, reason: "sdk_error", signature: "", boosted: false };
  }

  noteInternalError(): void {
    try {
      this.counters.add("internal_errors");
    } catch {
      /* the last line of defence must not throw either */
    }
  }

  /** Count the line and, when exporting, send it (kept) or hold it for error context (dropped, traced). */
  record(event: LogEvent, decision: Decision, exportLine = true, emitSelf = true): void {
    try {
      this.tally.addLine(decision.patternId, event.timestamp, decision.keep, event.message);
      if (exportLine) this.forward(event, decision, emitSelf);
    } catch {
      this.noteInternalError();
    }
  }

  /** decide + record in one call; returns whether the line is kept. */
  handle(event: LogEvent, exportLine = true): Decision {
    const decision = this.decide(event);
    this.record(event, decision, exportLine);
    return decision;
  }

  private forward(event: LogEvent, decision: Decision, emitSelf: boolean): void {
    const sink = this.sink;
    if (sink === null || this.closed) return;
    const now = Date.now() / 1000;
    if (!decision.keep) {
      const policy = this.decider.policy;
      if (event.traceId && policy?.error_context.enabled) {
        this.buffer.hold(event.traceId, [event, decision], now, footprint(event));
      }
      return;
    }
    if (isAlwaysKept(event.level) && event.traceId && this.buffer.size > 0) {
      for (const [heldEvent, heldDecision] of this.buffer.release(event.traceId, now)) {
        if (sink.emit(this.out(heldEvent, heldDecision, true))) {
          this.counters.add("context_flushed");
          this.tally.add(heldDecision.patternId, heldEvent.timestamp, 0, 1, messageSize(heldEvent.message));
        }
      }
    }
    if (emitSelf) sink.emit(this.out(event, decision, false));
  }

  out(event: LogEvent, decision: Decision, context: boolean): OutRecord {
    const attributes: Attributes = { ...event.attributes };
    attributes[RATE_ATTRIBUTE] = decision.rate;
    attributes[PATTERN_ATTRIBUTE] = decision.patternId;
    if (context) attributes[CONTEXT_ATTRIBUTE] = true;
    return {
      body: event.message,
      severityText: event.severityText ?? event.level,
      severityNumber: severityNumber(event.level),
      timestampMs: event.timestamp * 1000,
      attributes,
      traceId: event.traceId,
      spanId: event.spanId,
      traceFlags: event.traceFlags,
      error: isAlwaysKept(event.level),
    };
  }

  private schedulePoll(delayMs: number): void {
    if (this.closed || this.client === null) return;
    this.pollTimer = setTimeout(() => {
      this.polling = this.pollOnce().then((next) => {
        this.polling = null;
        this.schedulePoll(next);
      });
    }, delayMs);
    (this.pollTimer as { unref?: () => void }).unref?.();
  }

  /** One policy fetch; resolves to the delay until the next one (never rejects). */
  async pollOnce(): Promise<number> {
    const client = this.client;
    const interval = this.options.refreshIntervalMs;
    const jittered = (ms: number) => ms * (0.9 + Math.random() * 0.2);
    if (client === null) return interval;
    try {
      this.counters.add("policy_fetches");
      const result = await client.fetchPolicy(this.options.serviceName, this.policyEtag);
      if (this.closed) return interval;
      if (result.outcome === "changed") {
        this.applyPolicy(result.document, result.etag);
        this.counters.add("policy_updates");
        try {
          this.cache?.save(result.document, result.etag);
        } catch {
          this.counters.add("policy_cache_errors");
        }
      } else if (result.outcome === "not_modified") {
        this.counters.add("policy_not_modified");
      } else if (result.outcome === "missing") {
        this.counters.add("policy_missing");
      } else if (result.outcome === "failed") {
        this.counters.add("policy_errors");
        if (result.invalid && !this.policyWarned) {
          this.policyWarned = true;
          warn(`a policy answer could not be used; keeping the last good policy (${result.detail})`);
        }
        return jittered(Math.max(interval, (result.retryAfter ?? 0) * 1000));
      }
    } catch {
      this.noteInternalError();
    }
    return jittered(interval);
  }

  /** Counters since start plus current gauges. */
  stats(): Record<string, number> {
    const values = this.counters.snapshot();
    try {
      this.buffer.expire(Date.now() / 1000);
    } catch {
      /* gauges are best effort */
    }
    values.policy_version = this.decider.policy?.version ?? -1;
    values.context_buffered = this.buffer.size;
    values.stats_pending_batches = this.reporter?.pendingBatches() ?? 0;
    return values;
  }

  /** Send what is queued (logs and stats) now, within `timeoutMs`; resolves true when all went out. Never rejects. */
  async flush(timeoutMs = 5_000): Promise<boolean> {
    try {
      const deadline = Date.now() + timeoutMs;
      this.buffer.expire(Date.now() / 1000);
      const jobs: Promise<boolean>[] = [];
      if (this.sink !== null) jobs.push(this.sink.flush(deadline));
      if (this.reporter !== null) jobs.push(this.reporter.flush(deadline));
      return await withDeadline(Promise.all(jobs).then((all) => all.every(Boolean)), timeoutMs);
    } catch {
      this.noteInternalError();
      return false;
    }
  }

  /** Stop refreshing and reporting, send what is left within `timeoutMs`. Idempotent; never rejects. */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.pollTimer !== null) clearTimeout(this.pollTimer);
      this.counters.add("context_expired", this.buffer.clear());
      const deadline = Date.now() + timeoutMs;
      const sink = this.sink;
      const reporter = this.reporter;
      const stop = async (): Promise<boolean> => {
        if (sink !== null) {
          // The export stops first, so that what it loses on the way out is counted before the last stats batch,
          // which reports it; the rest of the time is the stats'.
          const reserve = reporter !== null ? Math.min(timeoutMs / 2, this.options.requestTimeoutMs) : 0;
          await withDeadline(sink.shutdown(deadline - reserve), timeoutMs - reserve);
        }
        if (reporter !== null) await reporter.stop(deadline);
        return true;
      };
      await withDeadline(stop(), timeoutMs);
    } catch {
      this.noteInternalError();
    }
  }
}

function footprint(event: LogEvent): number {
  let size = 200 + event.message.length;
  for (const key in event.attributes) {
    const value = event.attributes[key];
    size += key.length + (typeof value === "string" ? value.length : 8);
  }
  return size;
}

export function withDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T | false> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    (timer as { unref?: () => void }).unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}
