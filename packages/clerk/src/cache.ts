import { createHash } from 'node:crypto';
import type { VerifyResult } from '@agentkey/core';

/** Cache key for a token: its SHA-256, so no raw token is ever held as a key. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

interface Entry {
  result: VerifyResult;
  /** Epoch ms after which the entry is never served. */
  until: number;
}

/** Answers kept until a deadline, bounded in size; the oldest entry goes first when full. */
export class ResultCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, now: number): VerifyResult | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.result;
  }

  set(key: string, result: VerifyResult, until: number, now: number): void {
    if (until <= now) return;
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
