/** pino: `pino({ ...pinoOptions(handle), ... })`. The decision is made in `hooks.logMethod`, before pino serialises
 * anything, so a dropped call costs the decision alone. */

import type { AdaptiveLogging, LogEvent } from "./core.js";
import { attributesOf, traceFrom } from "./events.js";
import { interpolate, severityOfLevelNumber } from "./levels.js";

type LogFn = (...args: unknown[]) => void;

export interface PinoOptionsExtra {
  /** Send kept lines to PostHog too (when the handle exports); default true. */
  exportLines?: boolean;
}

const SKIP = new Set(["msg", "message", "level", "time", "pid", "hostname"]);

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
          const trace = traceFrom(fields);
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
            event.attributes = attributesOf(fields, SKIP);
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
