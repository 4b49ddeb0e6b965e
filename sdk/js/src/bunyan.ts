/** bunyan: `bunyan.createLogger({ name, streams: [lipserviceStream(handle, process.stdout)] })`. A raw stream that
 * decides on the record object and passes kept ones on (as JSON lines to a plain writable). */

import type { AdaptiveLogging } from "./core.js";
import { attributesOf, traceFrom } from "./events.js";
import { severityOfLevelNumber } from "./levels.js";

interface Writable {
  write(chunk: unknown): unknown;
}

export interface BunyanStream {
  type: "raw";
  level?: number | string;
  stream: { write(record: Record<string, unknown>): void };
}

const SKIP = new Set(["msg", "level", "time", "v", "pid", "hostname", "name"]);

/** Wraps `inner`: a raw bunyan stream gets record objects, anything else gets JSON lines. */
export function lipserviceStream(
  handle: AdaptiveLogging,
  inner: Writable,
  options: { raw?: boolean; level?: number | string; exportLines?: boolean } = {},
): BunyanStream {
  const raw = options.raw ?? false;
  const exportLines = options.exportLines !== false;
  return {
    type: "raw",
    level: options.level,
    stream: {
      write(record: Record<string, unknown>): void {
        let keep = true;
        try {
          const trace = traceFrom(record);
          const time = record.time instanceof Date ? record.time.getTime() / 1000 : Date.now() / 1000;
          const event = {
            message: typeof record.msg === "string" ? record.msg : String(record.msg ?? ""),
            level: severityOfLevelNumber(typeof record.level === "number" ? record.level : 30),
            timestamp: time,
            traceId: trace.traceId,
            spanId: trace.spanId,
            traceFlags: trace.traceFlags,
            attributes: record as Record<string, unknown> | undefined,
          };
          const decision = handle.decide(event);
          keep = decision.keep;
          if (exportLines && handle.exporting && (keep || trace.traceId)) {
            event.attributes = attributesOf(record, SKIP);
            handle.record(event, decision, true);
          } else {
            handle.record(event, decision, false);
          }
        } catch {
          handle.noteInternalError();
          keep = true;
        }
        if (keep) inner.write(raw ? record : JSON.stringify(record) + "\n");
      },
    },
  };
}
