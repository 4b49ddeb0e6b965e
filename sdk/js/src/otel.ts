/** OpenTelemetry JS: a LogRecordProcessor that decides each record and hands kept ones (with their sampling
 * attributes) to the application's own processor; dropped ones in a trace are held and handed on if an error follows. */

import type { Context } from "@opentelemetry/api";
import type { LogRecordProcessor, SdkLogRecord } from "@opentelemetry/sdk-logs";
import { ErrorContextBuffer } from "./buffer.js";
import { CONTEXT_ATTRIBUTE, type AdaptiveLogging } from "./core.js";
import { PATTERN_ATTRIBUTE, RATE_ATTRIBUTE } from "./decision.js";
import { isAlwaysKept, readSeverity } from "./severity.js";

type Held = [SdkLogRecord, Context | undefined];

function bodyText(body: unknown): string {
  if (typeof body === "string") return body;
  if (body === undefined || body === null) return "";
  try {
    return typeof body === "object" ? JSON.stringify(body) : String(body);
  } catch {
    return String(body);
  }
}

export class LipserviceLogRecordProcessor implements LogRecordProcessor {
  private readonly held: ErrorContextBuffer<Held>;

  constructor(
    private readonly handle: AdaptiveLogging,
    private readonly inner: LogRecordProcessor,
  ) {
    this.held = new ErrorContextBuffer(handle.counters, 0, 0, handle.options.maxContextLines);
  }

  onEmit(record: SdkLogRecord, context?: Context): void {
    let keep = true;
    try {
      const hrTime = record.hrTime;
      const timestamp = hrTime ? hrTime[0] + hrTime[1] / 1e9 : Date.now() / 1000;
      const level = readSeverity(record.severityText, record.severityNumber);
      const traceId = record.spanContext?.traceId ?? null;
      const event = {
        message: bodyText(record.body),
        level,
        timestamp,
        traceId,
        attributes: record.attributes as Record<string, unknown>,
      };
      const decision = this.handle.decide(event);
      this.handle.record(event, decision, false);
      keep = decision.keep;
      const settings = this.handle.policy?.error_context;
      const now = Date.now() / 1000;
      if (!keep) {
        if (traceId && settings?.enabled) {
          this.held.configure(settings.lines_per_trace, settings.seconds);
          this.held.hold(traceId, [record, context], now, 200 + event.message.length);
        }
        return;
      }
      if (isAlwaysKept(level) && traceId && this.held.size > 0) {
        for (const [heldRecord, heldContext] of this.held.release(traceId, now)) {
          heldRecord.setAttribute(CONTEXT_ATTRIBUTE, true);
          this.handle.counters.add("context_flushed");
          this.inner.onEmit(heldRecord, heldContext);
        }
      }
      record.setAttribute(RATE_ATTRIBUTE, decision.rate);
      record.setAttribute(PATTERN_ATTRIBUTE, decision.patternId);
    } catch {
      this.handle.noteInternalError();
    }
    if (keep) this.inner.onEmit(record, context);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.held.clear();
    return this.inner.shutdown();
  }
}
