/** Kept lines to PostHog through the OpenTelemetry JS logs SDK: OTLP/HTTP protobuf, gzip, a bounded batch queue, and
 * a bounded spool in which kept errors wait out an outage of the endpoint and are sent again. */

import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import type { Logger } from "@opentelemetry/api-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from "@opentelemetry/sdk-logs";
import type { OutRecord, Sink } from "./core.js";
import type { Counters } from "./counters.js";
import { attributeValue, hexId } from "./events.js";

/** Above this share of the queue only errors are accepted, so a flood of INFO lines cannot shed an error. */
const ERROR_RESERVE = 0.1;
const ERROR_NUMBER = 17;
const RESEND_MIN_MS = 500;
const RESEND_MAX_MS = 60_000;

type ExportResult = { code: number; error?: Error };

export function posthogLogsEndpoint(host: string): string {
  return host.replace(/\/+$/, "") + "/i/v1/logs";
}

export interface OtlpSinkOptions {
  endpoint: string;
  token: string;
  serviceName: string;
  sdkVersion: string;
  counters: Counters;
  timeoutMs: number;
  maxQueueSize: number;
  exportBatchSize: number;
  exportDelayMs: number;
  maxSpooledErrors: number;
  /** Replaces the OTLP exporter (tests, or an application that ships logs its own way). */
  exporter?: LogRecordExporter;
}

class SpoolingExporter implements LogRecordExporter {
  readonly spool: ReadableLogRecord[] = [];
  inflight = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private backoffMs = RESEND_MIN_MS;
  private resending: Promise<boolean> | null = null;

  constructor(
    private readonly inner: LogRecordExporter,
    private readonly sink: OtlpSink,
    private readonly maxSpool: number,
    private readonly batchSize: number,
  ) {}

  export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.sink.dequeued(records.length);
    this.send(records, (ok) => {
      if (ok && this.spool.length > 0) this.scheduleResend(0);
      done({ code: ok ? 0 : 1 });
    });
  }

  private send(records: ReadableLogRecord[], after: (ok: boolean) => void, again = false): void {
    const counters = this.sink.counters;
    this.inflight += 1;
    try {
      this.inner.export(records, (result: ExportResult) => {
        this.inflight -= 1;
        if (result.code === 0) {
          counters.add("exported", records.length);
          after(true);
          return;
        }
        const errors = records.filter((record) => (record.severityNumber ?? 0) >= ERROR_NUMBER);
        counters.add("export_failed", records.length - errors.length);
        this.hold(errors, again);
        after(false);
      });
    } catch {
      this.inflight -= 1;
      counters.add("internal_errors");
      this.hold(records.filter((record) => (record.severityNumber ?? 0) >= ERROR_NUMBER), again);
      after(false);
    }
  }

  /** Kept errors that did not go out wait here, oldest dropped first past the bound, and are tried again later. */
  hold(records: ReadableLogRecord[], again = false): void {
    if (records.length === 0) return;
    this.spool.push(...records);
    if (!again) this.sink.counters.add("spooled", records.length);
    const over = this.spool.length - this.maxSpool;
    if (over > 0) {
      this.spool.splice(0, over);
      this.sink.counters.add("spool_dropped", over);
    }
    this.scheduleResend(this.backoffMs);
  }

  private scheduleResend(delayMs: number): void {
    if (this.timer !== null || this.sink.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.resend();
    }, delayMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Send the spool once, a batch at a time; true when it is empty. */
  resend(): Promise<boolean> {
    if (this.resending !== null) return this.resending;
    this.resending = (async () => {
      while (this.spool.length > 0) {
        const batch = this.spool.splice(0, this.batchSize);
        const ok = await new Promise<boolean>((resolve) => this.send(batch, resolve, true));
        // A failed batch was put back at the end by hold(); the order of errors in PostHog is by timestamp anyway.
        if (!ok) {
          this.backoffMs = Math.min(RESEND_MAX_MS, this.backoffMs * 2);
          return false;
        }
        this.sink.counters.add("spool_resent", batch.length);
        this.backoffMs = RESEND_MIN_MS;
      }
      return true;
    })().finally(() => {
      this.resending = null;
    });
    return this.resending;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.cancel();
    return this.inner.shutdown();
  }
}

/** Owns one LoggerProvider + BatchLogRecordProcessor + OTLPLogExporter; `emit` never waits on the network. */
export class OtlpSink implements Sink {
  readonly counters: Counters;
  stopped = false;
  private queued = 0;
  private readonly maxQueue: number;
  private readonly softCap: number;
  private readonly provider: LoggerProvider;
  private readonly logger: Logger;
  private readonly exporter: SpoolingExporter;

  constructor(options: OtlpSinkOptions) {
    this.counters = options.counters;
    this.maxQueue = options.maxQueueSize;
    this.softCap = Math.max(1, Math.floor(options.maxQueueSize * (1 - ERROR_RESERVE)));
    const inner =
      options.exporter ??
      new OTLPLogExporter({
        url: options.endpoint,
        headers: { Authorization: `Bearer ${options.token}` },
        timeoutMillis: options.timeoutMs,
        compression: "gzip" as never,
      });
    this.exporter = new SpoolingExporter(inner, this, options.maxSpooledErrors, options.exportBatchSize);
    this.provider = new LoggerProvider({
      resource: resourceFromAttributes({
        "service.name": options.serviceName,
        "lipservice.sdk.version": options.sdkVersion,
      }),
      processors: [
        new BatchLogRecordProcessor({
          exporter: this.exporter,
          maxQueueSize: options.maxQueueSize,
          maxExportBatchSize: Math.min(options.exportBatchSize, options.maxQueueSize),
          scheduledDelayMillis: options.exportDelayMs,
          exportTimeoutMillis: options.timeoutMs,
        }),
      ],
    });
    this.logger = this.provider.getLogger("@lipservice/sdk", options.sdkVersion);
  }

  dequeued(count: number): void {
    this.queued = Math.max(0, this.queued - count);
  }

  get spooled(): number {
    return this.exporter.spool.length;
  }

  emit(record: OutRecord): boolean {
    if (this.stopped) return false;
    if (this.queued >= (record.error ? this.maxQueue : this.softCap)) {
      this.counters.add(record.error ? "shed_errors" : "shed");
      return false;
    }
    this.queued += 1;
    const attributes: Record<string, string | number | boolean> = {};
    for (const key in record.attributes) {
      const value = record.attributes[key];
      if (value !== undefined && value !== null) attributes[key] = attributeValue(value);
    }
    const traceId = hexId(record.traceId, 32);
    const context =
      traceId === null
        ? undefined
        : trace.setSpanContext(ROOT_CONTEXT, {
            traceId,
            // A span context needs a span id to be valid; a line that carries only a trace id gets the low half of
            // the trace id, so PostHog still groups it with its trace.
            spanId: hexId(record.spanId, 16) ?? (traceId.slice(16) === "0000000000000000" ? "0000000000000001" : traceId.slice(16)),
            traceFlags: (record.traceFlags ?? 0) & 0xff,
            isRemote: false,
          });
    this.logger.emit({
      timestamp: record.timestampMs,
      severityText: record.severityText,
      severityNumber: record.severityNumber,
      body: record.body,
      attributes,
      context,
    });
    return true;
  }

  /** Hand over what is queued, wait for the exports in flight, and try the spool once; true when all went out. */
  async flush(deadlineMs: number): Promise<boolean> {
    await this.provider.forceFlush();
    const exporter = this.exporter;
    while (exporter.inflight > 0 && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 20));
    if (exporter.spool.length > 0 && Date.now() < deadlineMs) await exporter.resend();
    return exporter.spool.length === 0 && exporter.inflight === 0;
  }

  async shutdown(deadlineMs: number): Promise<boolean> {
    const ok = await this.flush(deadlineMs);
    this.stopped = true;
    this.exporter.cancel();
    await this.provider.shutdown();
    // Errors still waiting when the process stops are lost with it: counted, so that the last stats batch says so.
    const left = this.exporter.spool.splice(0).length;
    if (left > 0) this.counters.add("spool_dropped", left);
    return ok;
  }
}
