/** pino: `pino({ ...pinoOptions(handle), ... })`. The decision is made in `hooks.logMethod`, before pino serialises
 * anything, so a dropped call costs the decision alone. A child logger's bindings are read once per child (a later
 * `setBindings` is not seen). */

import type { AdaptiveLogging, LogEvent } from "./core.js";
import { attributesOf, traceFrom } from "./events.js";
import { interpolate, severityOfLevelNumber } from "./levels.js";

type LogFn = (...args: unknown[]) => void;

export interface PinoOptionsExtra {
  /** Send kept lines to PostHog too (when the handle exports); default true. */
  exportLines?: boolean;
}

const SKIP = new Set(["msg", "message", "level", "time", "pid", "hostname"]);
// A child logger's bindings (`logger.child({ trace_id })`), read once per logger: pino parses them on each call.
const BINDINGS = new WeakMap<object, Record<string, unknown> | null>();

function bindingsOf(logger: unknown): Record<string, unknown> | null {
  if (logger === null || typeof logger !== "object") return null;
  let found = BINDINGS.get(logger);
  if (found === undefined) {
    const read = (logger as { bindings?: () => Record<string, unknown> }).bindings;
    try {
      found = typeof read === "function" ? read.call(logger) : null;
    } catch {
      found = null;
    }
    BINDINGS.set(logger, found ?? null);
  }
  return found ?? null;
}

export function pinoOptions(
  handle: AdaptiveLogging,
  extra: PinoOptionsExtra = {},
): { hooks: { logMethod: (this: unknown, args: unknown[], method: LogFn, level: number) => void } } {
  const exportLines = extra.exportLines !== false;
  return {
    hooks: {
      logMethod(this: unknown, args: unknown[], method: LogFn, level: number): void {
        let event: LogEvent | null = null;
        let keep = true;
        try {
          const first = args[0];
          let fields: Record<string, unknown> | null = null;
          let message: string;
          if (first !== null && typeof first === "object") {
            fields = first instanceof Error ? { err: first } : (first as Record<string, unknown>);
            const second = args[1];
            if (typeof second === "string") message = interpolate(second, args, 2);
            else if (first instanceof Error) message = first.message;
            else message = typeof fields.msg === "string" ? fields.msg : "";
          } else {
            message = typeof first === "string" ? interpolate(first, args, 1) : String(first ?? "");
          }
          let trace = traceFrom(fields);
          const bindings = bindingsOf(this);
          if (trace.traceId === null && bindings !== null) trace = traceFrom(bindings);
          event = {
            message,
            level: severityOfLevelNumber(level),
            timestamp: Date.now() / 1000,
            traceId: trace.traceId,
            spanId: trace.spanId,
            traceFlags: trace.traceFlags,
            attributes: fields ?? undefined,
          };
          const decision = handle.decide(event);
          keep = decision.keep;
          if (exportLines && handle.exporting && (keep || trace.traceId)) {
            event.attributes = bindings === null ? attributesOf(fields, SKIP) : { ...attributesOf(bindings, SKIP), ...attributesOf(fields, SKIP) };
            handle.record(event, decision, true);
          } else {
            handle.record(event, decision, false);
          }
        } catch {
          handle.noteInternalError();
          keep = true;
        }
        if (keep) method.apply(this, args);
      },
    },
  };
}
