/** Error context: dropped lines held briefly per trace, released when an error follows in the same trace. */

import type { Counters } from "./counters.js";

interface Held<T> {
  at: number;
  size: number;
  item: T;
}

/** Bounded four ways: lines per trace, seconds held, and a global cap in lines and in bytes (the least recently
 * active trace loses its oldest line first). */
export class ErrorContextBuffer<T> {
  private traces = new Map<string, Held<T>[]>();
  size = 0;
  bytes = 0;

  constructor(
    private readonly counters: Counters,
    public linesPerTrace: number,
    public seconds: number,
    readonly maxLines: number,
    readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  configure(linesPerTrace: number, seconds: number): void {
    this.linesPerTrace = linesPerTrace;
    this.seconds = seconds;
  }

  hold(traceId: string, item: T, now: number, size: number): void {
    this.expire(now);
    if (this.linesPerTrace <= 0 || this.seconds <= 0 || this.maxLines <= 0 || size > this.maxBytes) {
      this.counters.add("context_evicted");
      return;
    }
    let lines = this.traces.get(traceId);
    if (lines === undefined) lines = [];
    else this.traces.delete(traceId);
    this.traces.set(traceId, lines);
    lines.push({ at: now, size, item });
    this.size += 1;
    this.bytes += size;
    this.counters.add("context_held");
    if (lines.length > this.linesPerTrace) this.dropOldest(lines);
    while (this.size > this.maxLines || this.bytes > this.maxBytes) {
      const [oldestTrace, oldest] = this.traces.entries().next().value!;
      this.dropOldest(oldest);
      if (oldest.length === 0) this.traces.delete(oldestTrace);
    }
  }

  /** The held lines of this trace that are still fresh, oldest first; the trace is forgotten. */
  release(traceId: string, now: number): T[] {
    const lines = this.traces.get(traceId);
    this.traces.delete(traceId);
    if (!lines || lines.length === 0) {
      this.expire(now);
      return [];
    }
    this.size -= lines.length;
    for (const line of lines) this.bytes -= line.size;
    const fresh = lines.filter((line) => now - line.at <= this.seconds).map((line) => line.item);
    if (fresh.length < lines.length) this.counters.add("context_expired", lines.length - fresh.length);
    this.expire(now);
    return fresh;
  }

  expire(now: number): void {
    for (const [traceId, lines] of this.traces) {
      while (lines.length > 0 && now - lines[0]!.at > this.seconds) {
        const line = lines.shift()!;
        this.size -= 1;
        this.bytes -= line.size;
        this.counters.add("context_expired");
      }
      if (lines.length > 0) return;
      this.traces.delete(traceId);
    }
  }

  clear(): number {
    const dropped = this.size;
    this.traces.clear();
    this.size = 0;
    this.bytes = 0;
    return dropped;
  }

  private dropOldest(lines: Held<T>[]): void {
    const line = lines.shift()!;
    this.size -= 1;
    this.bytes -= line.size;
    this.counters.add("context_evicted");
  }
}
