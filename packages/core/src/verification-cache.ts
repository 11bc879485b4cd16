import { hashKey } from './key.js';
import type { VerifyResult } from './verifier.js';

/** Cache key for a bearer token: its SHA-256, so no raw token is ever held as a key. */
export const tokenCacheKey = (token: string): string => hashKey(token);

/**
 * Verification answers for verifier plugins, kept until a deadline (never past the token's own
 * expiry: the caller passes the earlier of the two), bounded in size: the oldest entry goes first.
 * Revocation of a subject's row is unaffected: the store reads the row on every request.
 */
export class VerificationCache {
  private readonly entries = new Map<string, { result: VerifyResult; until: number }>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, nowMs: number): VerifyResult | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.result;
  }

  set(key: string, result: VerifyResult, until: number, nowMs: number): void {
    if (until <= nowMs) return;
    this.entries.delete(key);
    this.entries.set(key, { result, until });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
