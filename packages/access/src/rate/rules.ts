import type { Caller } from '../caller.js';
import { type AccessRefusal, refuse } from '../errors.js';
import type { RateLimiter, WindowLimit } from './limiter.js';

/** What is counted: an agent's reads (lists), its requests and suggestions, vends, proxied calls. */
export type RateKind = 'read' | 'request' | 'vend' | 'proxy';

/** Limits per kind, per credential and per tool (every caller of the tool together). */
export type RateLimits = Partial<Record<RateKind, { perCredential?: WindowLimit; perTool?: WindowLimit }>>;

/**
 * Counts the call in each window that applies (the credential's, the tool's, the grant's own) and
 * answers the first refusal, 429 with the seconds to wait. A window refused after another counted
 * leaves that count: windows are cheap, and a refused agent waiting is what they are for.
 */
export async function checkRates(
  limiter: RateLimiter,
  limits: RateLimits,
  kind: RateKind,
  caller: Caller,
  toolId?: string,
  grant?: { id: number; rateLimit: WindowLimit | null },
): Promise<AccessRefusal | null> {
  const windows: Array<[string, WindowLimit]> = [];
  const own = limits[kind];
  if (own?.perCredential) windows.push([`access|${kind}|cred:${caller.id}`, own.perCredential]);
  if (own?.perTool && toolId) windows.push([`access|${kind}|tool:${toolId}`, own.perTool]);
  if (grant?.rateLimit) windows.push([`access|grant:${grant.id}`, grant.rateLimit]);
  for (const [bucket, limit] of windows) {
    const decision = await limiter.hit(bucket, limit);
    if (!decision.ok) {
      return refuse(
        'rate_limited',
        `rate limit: ${limit.requests} per ${limit.windowSec}s`,
        Math.ceil(decision.retryAfterSec),
      );
    }
  }
  return null;
}
