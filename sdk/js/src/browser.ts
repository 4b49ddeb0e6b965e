/** @lipservice/sdk/browser: the same decision in a page, applied through posthog-js's `logs.beforeSend` hook, with
 * the policy fetched from LipService and stats posted to it (no disk cache, no OpenTelemetry). */

import { AdaptiveLogging, type AdaptiveOptions, CONTEXT_ATTRIBUTE, type OutRecord, type Sink } from "./core.js";
import { type TraceIds, traceFrom } from "./events.js";
import { type Severity, readSeverity } from "./severity.js";

export * from "./shared.js";

/** posthog-js's CaptureLogOptions, the record its `logs.beforeSend` functions receive. */
export interface CaptureLogRecord {
  body: string;
  level?: string;
  trace_id?: string;
  span_id?: string;
  trace_flags?: number;
  attributes?: Record<string, unknown>;
}

/** What the handle needs of a posthog-js instance to send held error context after all. */
export interface PostHogLike {
  captureLog(options: CaptureLogRecord): void;
}

const LEVELS: Record<Severity, string> = {
  TRACE: "trace", DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error", FATAL: "fatal",
};

class PostHogSink implements Sink {
  constructor(readonly posthog: PostHogLike) {}
  emit(record: OutRecord): boolean {
    // Only held context lines come here (kept lines continue through beforeSend); they re-enter beforeSend marked.
    this.posthog.captureLog({
      body: record.body,
      level: LEVELS[readSeverity(record.severityText, record.severityNumber)],
      trace_id: record.traceId ?? undefined,
      span_id: record.spanId ?? undefined,
      attributes: record.attributes,
    });
    return true;
  }
  async flush(): Promise<boolean> {
    return true;
  }
  async shutdown(): Promise<boolean> {
    return true;
  }
}

export interface BrowserAdaptiveOptions extends Omit<AdaptiveOptions, "posthogToken" | "posthogHost" | "policy"> {
  policy?: AdaptiveOptions["policy"];
  /** The posthog-js instance: held lines of a trace in which an error follows are captured through it. */
  posthog?: PostHogLike;
}

/** Start sampling in the page; pass `beforeSend(handle)` to posthog-js's `logs.beforeSend`. */
export function configureAdaptiveLogging(options: BrowserAdaptiveOptions): AdaptiveLogging {
  const posthog = options.posthog;
  const handle = new AdaptiveLogging(options, { sink: posthog ? new PostHogSink(posthog) : null });
  handle.start();
  const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
  // Stats go out with keepalive requests when the page is hidden or unloaded.
  target.addEventListener?.("pagehide", () => void handle.flush(1_000));
  return handle;
}

/** A posthog-js `logs.beforeSend` function: returns the record (with lipservice.sample_rate and lipservice.pattern)
 * to keep it, or null to drop it. Never throws: on an internal failure the record is kept. */
export function beforeSend(handle: AdaptiveLogging): (record: CaptureLogRecord) => CaptureLogRecord | null {
  return (record) => {
    try {
      if (record.attributes?.[CONTEXT_ATTRIBUTE] === true) return record;
      const fromRecord: TraceIds | null = record.trace_id
        ? { traceId: record.trace_id, spanId: record.span_id ?? null, traceFlags: record.trace_flags ?? 0 }
        : null;
      const trace = fromRecord ?? traceFrom(record.attributes);
      const event = {
        message: typeof record.body === "string" ? record.body : String(record.body),
        level: readSeverity(record.level ?? "info"),
        severityText: record.level,
        timestamp: Date.now() / 1000,
        traceId: trace.traceId,
        spanId: trace.spanId,
        attributes: record.attributes,
      };
      const decision = handle.decide(event);
      // Dropped lines in a trace are held (when a posthog instance was given) and captured if an error follows.
      handle.record(event, decision, true, false);
      if (!decision.keep) return null;
      return {
        ...record,
        trace_id: record.trace_id ?? trace.traceId ?? undefined,
        attributes: { ...record.attributes, "lipservice.sample_rate": decision.rate, "lipservice.pattern": decision.patternId },
      };
    } catch {
      handle.noteInternalError();
      return record;
    }
  };
}
