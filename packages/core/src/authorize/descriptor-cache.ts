import { DESCRIPTIVE_FIELDS, type KeyRow } from '../keys/key-row.js';
import { TtlCache } from './ttl-cache.js';

/** The descriptive part of a row: what a principal shows, never what a decision rests on. */
export type Descriptor = Pick<KeyRow, (typeof DESCRIPTIVE_FIELDS)[number]> & {
  /** The account had a ceiling when last seen: try the key-and-account statement first. A hint only. */
  capped: boolean;
};

/**
 * Lets the hot UPDATE return five numbers instead of twelve columns (array and text output cost
 * PostgreSQL and pg more than the UPDATE itself). Revocation, expiry, scope and budget are still
 * decided by the UPDATE's WHERE on every request; only the descriptive fields may lag a direct
 * SQL edit by at most `ttlMs` (DESIGN guarantee 5 bounds that at 1 s). Bounded: the oldest entry
 * goes first once `max` is reached.
 */
export class DescriptorCache {
  private readonly cache: TtlCache<Descriptor>;

  constructor(
    private readonly ttlMs: number,
    max = 10_000,
  ) {
    this.cache = new TtlCache(max);
  }

  get(key: string, nowMs: number): Descriptor | undefined {
    return this.cache.get(key, nowMs);
  }

  set(key: string, row: KeyRow, capped: boolean, nowMs: number): void {
    if (this.ttlMs <= 0) return;
    const descriptor = { capped } as Descriptor;
    for (const field of DESCRIPTIVE_FIELDS) (descriptor as Record<string, unknown>)[field] = row[field];
    this.cache.set(key, descriptor, nowMs + this.ttlMs, nowMs);
  }

  clear(): void {
    this.cache.clear();
  }
}
