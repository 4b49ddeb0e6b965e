/** winston: `format.combine(lipserviceFormat(handle), ...)`. The format returns false for a dropped line, which
 * winston then never formats or writes. Put it first, before any format that colours or rewrites the level. */

import type { AdaptiveLogging } from "./core.js";
import { attributesOf, traceFrom } from "./events.js";
import { type Severity, readSeverity, severityOfText } from "./severity.js";

// winston's npm levels that the shared spelling table does not name.
const NPM_ONLY: Record<string, Severity> = { silly: "TRACE", http: "INFO" };
const LEVEL = Symbol.for("level");
const SKIP = new Set(["level", "message", "timestamp"]);

export interface WinstonInfo {
  level: string;
  message: unknown;
  [key: string | symbol]: unknown;
}

export interface LipserviceFormat {
  transform(info: WinstonInfo, options?: unknown): WinstonInfo | boolean;
  options?: unknown;
}

export function severityOfWinstonLevel(level: unknown): Severity {
  const text = typeof level === "string" ? level : "";
  return severityOfText(text) ?? NPM_ONLY[text.toLowerCase()] ?? readSeverity(text);
}

/** A winston format (an object with `transform`, what `winston.format(fn)()` makes) deciding each line. */
export function lipserviceFormat(handle: AdaptiveLogging, options: { exportLines?: boolean } = {}): LipserviceFormat {
  const exportLines = options.exportLines !== false;
  return {
    transform(info: WinstonInfo): WinstonInfo | boolean {
      try {
        const fields = info as unknown as Record<string, unknown>;
        const message = typeof info.message === "string" ? info.message : String(info.message ?? "");
        const trace = traceFrom(fields);
        const event = {
          message,
          level: severityOfWinstonLevel(info[LEVEL] ?? info.level),
          severityText: typeof info[LEVEL] === "string" ? (info[LEVEL] as string) : undefined,
          timestamp: Date.now() / 1000,
          traceId: trace.traceId,
          spanId: trace.spanId,
          traceFlags: trace.traceFlags,
          attributes: fields as Record<string, unknown> | undefined,
        };
        const decision = handle.decide(event);
        if (exportLines && handle.exporting && (decision.keep || trace.traceId)) {
          event.attributes = attributesOf(fields, SKIP);
          handle.record(event, decision, true);
        } else {
          handle.record(event, decision, false);
        }
        return decision.keep ? info : false;
      } catch {
        handle.noteInternalError();
        return info;
      }
    },
  };
}
