import type { KeyRow } from './rows.js';

/** The descriptive part of a row: what a principal shows, never what a decision rests on. */
export type Descriptor = Pick<
  KeyRow,
  'account_id' | 'user_id' | 'name' | 'scopes' | 'budget_period' | 'delegated_by' | 'external_subject'
>;

/**
 * Lets the hot UPDATE return five numbers instead of twelve columns (array and text output cost
 * PostgreSQL and pg more than the UPDATE itself). Revocation, expiry, scope and budget are still
 * decided by the UPDATE's WHERE on every request; only the descriptive fields may lag a direct
 * SQL edit by at most `ttlMs` (DESIGN guarantee 5 bounds that at 1 s). Bounded: the oldest entry
 * goes first once `max` is reached.
 */
export class DescriptorCache {
  private readonly entries = new Map<string, { descriptor: Descriptor; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  get(key: string, nowMs: number): Descriptor | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.descriptor;
  }

  set(key: string, row: KeyRow, nowMs: number): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    const { account_id, user_id, name, scopes, budget_period, delegated_by, external_subject } = row;
    this.entries.set(key, {
      descriptor: { account_id, user_id, name, scopes, budget_period, delegated_by, external_subject },
      until: nowMs + this.ttlMs,
    });
  }

  clear(): void {
    this.entries.clear();
  }
}
