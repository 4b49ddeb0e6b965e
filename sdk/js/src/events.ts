/** Where a line's trace id comes from (the active OpenTelemetry span, else the first trace-id field of the record)
 * and how record fields become OTLP attributes; shared by every integration. */

import { activeSpan } from "./trace.js";

export const TRACE_KEYS = ["trace_id", "otelTraceID", "trace.id", "traceId"] as const;
export const SPAN_KEYS = ["span_id", "otelSpanID", "span.id", "spanId"] as const;
export const MAX_ATTRIBUTE_CHARS = 4096;
const HEX = /^[0-9a-fA-F]{1,32}$/;

export interface TraceIds {
  traceId: string | null;
  spanId: string | null;
  traceFlags: number;
}

const NONE: TraceIds = { traceId: null, spanId: null, traceFlags: 0 };

function firstText(values: Record<string, unknown>, keys: readonly string[], width: number): string | null {
  for (const key of keys) {
    const value = values[key];
    if (value === undefined || value === null || value === "" || typeof value === "boolean") continue;
    if (typeof value === "number" || typeof value === "bigint") {
      return value > 0 ? BigInt(value).toString(16).padStart(width, "0") : null;
    }
    return typeof value === "string" ? value : String(value);
  }
  return null;
}

/** The trace (and span) id from the active span, else from the first trace-id key present in `values`. */
export function traceFrom(values: Record<string, unknown> | null | undefined): TraceIds {
  const span = activeSpan();
  if (span !== null) return span;
  if (!values) return NONE;
  const traceId = firstText(values, TRACE_KEYS, 32);
  if (traceId === null) return NONE;
  return { traceId, spanId: firstText(values, SPAN_KEYS, 16), traceFlags: 0 };
}

/** An OTLP id as hex of the given width from hex text (dashes allowed, as in a UUID); null when not hex. */
export function hexId(value: string | null | undefined, width: number): string | null {
  if (!value) return null;
  const text = value.replaceAll("-", "");
  if (text.length > width || !HEX.test(text) || /^0+$/.test(text)) return null;
  return text.toLowerCase().padStart(width, "0");
}

export type AttributeValue = string | number | boolean;

/** A value OTLP can carry: a boolean, a finite number or (truncated) text; one bad value must not fail a batch. */
export function attributeValue(value: unknown): AttributeValue {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string") return value.length > MAX_ATTRIBUTE_CHARS ? value.slice(0, MAX_ATTRIBUTE_CHARS) : value;
  let text: string;
  try {
    text = typeof value === "object" && value !== null ? JSON.stringify(value) ?? String(value) : String(value);
  } catch {
    text = `<unprintable ${typeof value}>`;
  }
  return text.slice(0, MAX_ATTRIBUTE_CHARS);
}

/** Record fields as attributes, with an Error's message, type and stack spelled the OpenTelemetry way. */
export function attributesOf(fields: Record<string, unknown> | null | undefined, skip?: ReadonlySet<string>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  if (!fields) return out;
  for (const key in fields) {
    if (skip?.has(key)) continue;
    const value = fields[key];
    if (value === undefined || value === null || typeof value === "function") continue;
    if (value instanceof Error) {
      out["exception.type"] = value.name;
      out["exception.message"] = attributeValue(value.message);
      if (value.stack) out["exception.stacktrace"] = attributeValue(value.stack);
      continue;
    }
    out[key] = attributeValue(value);
  }
  return out;
}
