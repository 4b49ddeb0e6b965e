/** Named counters behind `handle.stats()`. */

export const COUNTER_NAMES = [
  "seen", "kept", "dropped", "exported", "export_failed", "shed", "shed_errors", "spooled", "spool_resent",
  "spool_dropped", "context_held", "context_flushed", "context_expired", "context_evicted", "policy_fetches",
  "policy_updates", "policy_not_modified", "policy_missing", "policy_errors", "policy_cache_errors",
  "stats_batches_sent", "stats_entries_sent", "stats_retries", "stats_overflow", "stats_dropped_entries",
  "internal_errors",
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

export class Counters {
  readonly values: Record<CounterName, number> = Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as Record<
    CounterName,
    number
  >;

  add(name: CounterName, amount = 1): void {
    this.values[name] += amount;
  }

  snapshot(): Record<string, number> {
    return { ...this.values };
  }
}
