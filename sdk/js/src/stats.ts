/** Per-pattern, per-minute counts (seen, kept, bytes) and the reporter that posts them to LipService in batches. */

import type { LipServiceClient } from "./client.js";
import { parseRetryAfter } from "./client.js";
import type { CounterName, Counters } from "./counters.js";

export const OVERFLOW_PATTERN = "lipservice:overflow";
const MAX_BATCH_ENTRIES = 1000;

/** Kept lines that did not reach PostHog, reported with the stats (as `losses`): each name on the wire (the Python
 * SDK's counter names) and the counter it is read from here. */
export const LOSS_COUNTERS = {
  errors_lost: "spool_dropped",
  shed_errors: "shed_errors",
  export_failed: "export_failed",
  shed: "shed",
} as const satisfies Record<string, CounterName>;
export type LossName = keyof typeof LOSS_COUNTERS;
type Losses = Partial<Record<LossName, number>>;
const LOSS_NAMES = Object.keys(LOSS_COUNTERS) as LossName[];
const encoder = new TextEncoder();
const NON_ASCII = /[^\x00-\x7f]/;

/** A message's size in UTF-8 bytes (lone surrogates count as "?", as in Python). */
export function messageSize(message: string): number {
  if (!NON_ASCII.test(message)) return message.length;
  return encoder.encode(message.isWellFormed() ? message : message.toWellFormed()).length -
    2 * countLoneSurrogates(message);
}

function countLoneSurrogates(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else count++;
    } else if (code >= 0xdc00 && code <= 0xdfff) count++;
  }
  return count;
}

export function minuteLabel(minute: number): string {
  return new Date(minute * 1000).toISOString().replace(".000Z", "Z");
}

export interface StatsEntry {
  pattern: string;
  minute: string;
  seen: number;
  kept: number;
  bytes_seen: number;
  bytes_kept: number;
}

/** Counts per (pattern, minute). Bounded: past maxKeys, new keys fold into one overflow row per minute. */
export class StatsAggregator {
  private counts = new Map<string, number[]>();

  constructor(
    private readonly counters: Counters,
    private readonly maxKeys = 20_000,
    readonly perPattern = true,
  ) {}

  addLine(pattern: string, timestamp: number, kept: boolean, message: string): void {
    const counters = this.counters.values;
    counters.seen += 1;
    if (kept) counters.kept += 1;
    else counters.dropped += 1;
    if (!this.perPattern) return;
    const size = messageSize(message);
    const row = this.row(pattern, Math.floor(timestamp / 60) * 60);
    row[0]! += 1;
    row[2]! += size;
    if (kept) {
      row[1]! += 1;
      row[3]! += size;
    }
  }

  /** Lines already counted in the process counters (held lines sent after all) added to a row. */
  add(pattern: string, timestamp: number, seen: number, kept: number, size: number): void {
    if (!this.perPattern) return;
    const row = this.row(pattern, Math.floor(timestamp / 60) * 60);
    row[0]! += seen;
    row[1]! += kept;
    row[2]! += size * seen;
    row[3]! += size * kept;
  }

  private row(pattern: string, minute: number): number[] {
    let key = `${minute}\u0000${pattern}`;
    let row = this.counts.get(key);
    if (row === undefined) {
      if (this.counts.size >= this.maxKeys) {
        key = `${minute}\u0000${OVERFLOW_PATTERN}`;
        this.counters.add("stats_overflow");
        row = this.counts.get(key);
        if (row !== undefined) return row;
      }
      row = [0, 0, 0, 0];
      this.counts.set(key, row);
    }
    return row;
  }

  drain(): StatsEntry[] {
    const counts = this.counts;
    this.counts = new Map();
    const entries: [number, string, number[]][] = [];
    for (const [key, row] of counts) {
      const cut = key.indexOf("\u0000");
      entries.push([Number(key.slice(0, cut)), key.slice(cut + 1), row]);
    }
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return entries.map(([minute, pattern, row]) => ({
      pattern,
      minute: minuteLabel(minute),
      seen: row[0]!,
      kept: row[1]!,
      bytes_seen: row[2]!,
      bytes_kept: row[3]!,
    }));
  }
}

interface Batch {
  entries: StatsEntry[];
  batchId: string;
  attempts: number;
  losses: Losses;
  /** An attempt without an answer, or with a 5xx, may have been stored all the same. */
  maybeStored?: boolean;
}

function uuid4(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Drains the aggregator every interval into batches of at most 1000 entries and posts them, oldest first.
 *
 * A batch keeps its batch_id through every retry (the server is idempotent by batch_id); 429 and 503 wait for
 * Retry-After, other 5xx and network errors back off exponentially; 413 splits a batch; pending entries are bounded
 * and the oldest batches go first.
 *
 * The delivery losses counted since the previous drain ride on the first batch of a drain (a batch of no entries when
 * nothing else waits), so a retried batch reports them once; a batch given up on that cannot have been stored hands
 * its losses back, and a later drain reports them again. */
export class StatsReporter {
  private pending: Batch[] = [];
  private pendingEntries = 0;
  private readonly lossesTaken = Object.fromEntries(LOSS_NAMES.map((name) => [name, 0])) as Record<LossName, number>;
  private retryAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending: Promise<void> | null = null;
  private stopped = false;
  private nextDrain = 0;

  constructor(
    private readonly client: LipServiceClient,
    private readonly aggregator: StatsAggregator,
    private readonly counters: Counters,
    private readonly service: string,
    private readonly sdk: { name: string; version: string },
    private readonly intervalMs = 30_000,
    private readonly maxPendingEntries = 50_000,
    private readonly maxAttempts = 10,
  ) {}

  start(): void {
    this.nextDrain = Date.now() + this.intervalMs;
    this.schedule(this.intervalMs);
  }

  pendingBatches(): number {
    return this.pending.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (Date.now() >= this.nextDrain) {
      this.collect();
      this.nextDrain = Date.now() + this.intervalMs;
    }
    await this.send(null, false);
    const wake = this.pending.length > 0 ? Math.min(this.nextDrain, Math.max(this.retryAt, Date.now())) : this.nextDrain;
    this.schedule(wake - Date.now());
  }

  collect(): void {
    const entries = this.aggregator.drain();
    // Losses alone wait while other batches do, so that an outage of LipService piles up no empty batches.
    const losses = entries.length > 0 || this.pending.length === 0 ? this.takeLosses() : {};
    const chunks: StatsEntry[][] = [];
    for (let start = 0; start < entries.length; start += MAX_BATCH_ENTRIES) {
      chunks.push(entries.slice(start, start + MAX_BATCH_ENTRIES));
    }
    if (chunks.length === 0 && Object.keys(losses).length > 0) chunks.push([]);
    chunks.forEach((chunk, index) =>
      this.enqueue({ entries: chunk, batchId: uuid4(), attempts: 0, losses: index === 0 ? losses : {} }),
    );
  }

  /** The loss counters' growth since the last take (only those that grew). */
  private takeLosses(): Losses {
    const grown: Losses = {};
    for (const name of LOSS_NAMES) {
      const amount = this.counters.values[LOSS_COUNTERS[name]] - this.lossesTaken[name];
      if (amount > 0) {
        grown[name] = amount;
        this.lossesTaken[name] += amount;
      }
    }
    return grown;
  }

  /** A batch given up on returns its losses for a later drain, unless it may have been stored. */
  private giveBack(batch: Batch): void {
    if (batch.maybeStored) return;
    for (const name of LOSS_NAMES) this.lossesTaken[name] -= batch.losses[name] ?? 0;
  }

  private enqueue(batch: Batch, front = false): void {
    if (front) this.pending.unshift(batch);
    else this.pending.push(batch);
    this.pendingEntries += batch.entries.length;
    while (this.pendingEntries > this.maxPendingEntries && this.pending.length > 1) {
      const oldest = this.pending.shift()!;
      this.pendingEntries -= oldest.entries.length;
      this.counters.add("stats_dropped_entries", oldest.entries.length);
      this.giveBack(oldest);
    }
  }

  /** Drain now and try each pending batch once (a final flush ignores backoff); true when nothing is left. */
  async flush(deadlineMs: number, final = false): Promise<boolean> {
    this.collect();
    await this.send(deadlineMs, final);
    return this.pending.length === 0;
  }

  async stop(deadlineMs: number): Promise<boolean> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    return this.flush(deadlineMs, true);
  }

  private async send(deadlineMs: number | null, ignoreBackoff: boolean): Promise<void> {
    while (this.sending !== null) await this.sending;
    const run = this.sendAll(deadlineMs, ignoreBackoff);
    this.sending = run;
    try {
      await run;
    } finally {
      this.sending = null;
    }
  }

  private async sendAll(deadlineMs: number | null, ignoreBackoff: boolean): Promise<void> {
    if (!ignoreBackoff && Date.now() < this.retryAt) return;
    const tried = new Set<string>();
    for (;;) {
      if (deadlineMs !== null && Date.now() >= deadlineMs) return;
      const batch = this.pending.shift();
      if (batch === undefined) return;
      this.pendingEntries -= batch.entries.length;
      if (tried.has(batch.batchId)) {
        this.enqueue(batch, true);
        return;
      }
      tried.add(batch.batchId);
      if (!(await this.post(batch))) return;
    }
  }

  private async post(batch: Batch): Promise<boolean> {
    const payload: Record<string, unknown> = {
      batch_id: batch.batchId,
      service: this.service,
      sdk: this.sdk,
      stats: batch.entries,
    };
    if (Object.keys(batch.losses).length > 0) payload.losses = batch.losses;
    const result = await this.client.postStats(payload);
    batch.attempts += 1;
    if (result.status === 0 || result.status >= 500) batch.maybeStored = true;
    if (result.status >= 200 && result.status < 300) {
      this.counters.add("stats_batches_sent");
      this.counters.add("stats_entries_sent", batch.entries.length);
      this.retryAt = 0;
      return true;
    }
    if (result.status === 413 && batch.entries.length > 1) {
      const half = Math.floor(batch.entries.length / 2);
      this.enqueue({ entries: batch.entries.slice(half), batchId: uuid4(), attempts: 0, losses: {} }, true);
      this.enqueue({ entries: batch.entries.slice(0, half), batchId: uuid4(), attempts: 0, losses: batch.losses }, true);
      return true;
    }
    const retryable = result.status === 0 || result.status === 408 || result.status === 429 || result.status >= 500;
    if (!retryable || batch.attempts >= this.maxAttempts) {
      this.counters.add("stats_dropped_entries", batch.entries.length);
      this.giveBack(batch);
      return true;
    }
    this.counters.add("stats_retries");
    let delay =
      result.status === 429 || result.status === 503 ? parseRetryAfter(result.headers?.get("retry-after")) : null;
    if (delay === null) delay = Math.min(120, 2 ** (batch.attempts - 1)) * (0.5 + Math.random() / 2);
    this.retryAt = Date.now() + delay * 1000;
    this.enqueue(batch, true);
    return false;
  }
}
