/** The trace and span ids of the active OpenTelemetry span, read through @opentelemetry/api's global registration
 * when an application has registered one (no import, so nothing is loaded or bundled when OpenTelemetry is absent). */

const API_KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
const INVALID_TRACE = "00000000000000000000000000000000";

interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags?: number;
}
interface GlobalApi {
  context?: { active(): { getValue(key: symbol): unknown } };
}

export interface ActiveSpan {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

export function activeSpan(): ActiveSpan | null {
  const api = (globalThis as Record<symbol, GlobalApi | undefined>)[API_KEY];
  const manager = api?.context;
  if (manager === undefined) return null;
  try {
    const span = manager.active().getValue(SPAN_KEY) as { spanContext?: () => SpanContextLike } | undefined;
    const context = span?.spanContext?.();
    if (!context || !context.traceId || context.traceId === INVALID_TRACE) return null;
    return { traceId: context.traceId, spanId: context.spanId, traceFlags: context.traceFlags ?? 0 };
  } catch {
    return null;
  }
}
