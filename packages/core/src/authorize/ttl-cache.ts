/**
 * Entries kept until a deadline, bounded in size: the oldest entries go first once `max` is
 * passed. The store's descriptor cache and the verifiers' answer caches are both this.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly max: number) {}

  get(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` until `until` (epoch ms); nothing is kept when that has already passed. */
  set(key: string, value: V, until: number, nowMs: number): void {
    if (until <= nowMs) return;
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    if (this.entries.size > this.max) this.evict();
  }

  /**
   * Drops the oldest entries, a sixteenth of `max` more than needed, in one pass. A Map keeps the
   * slots of deleted entries until it rehashes, and each new iterator walks them again from the
   * start: dropping one entry per insert cost 8.5 µs an insert at 10,000 entries with a million
   * keys coming through (bench/, scale), against 0.3 µs when the keys fit. One pass per
   * sixteenth of `max` inserts keeps eviction O(1) amortised.
   */
  private evict(): void {
    const keep = this.max - Math.floor(this.max / 16);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= keep) break;
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops every entry whose value matches. */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (match(entry.value)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
