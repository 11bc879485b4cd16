import type { RateLimitState } from '@agentkey/core';

/**
 * The RateLimit header fields of the IETF draft "RateLimit header fields for HTTP"
 * (draft-ietf-httpapi-ratelimit-headers-10 of September 2025 and -11 of May 2026, which replaced
 * the older RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset trio with two Structured
 * Field lists):
 *
 *   RateLimit-Policy: "key-requests";q=50;w=60     the quota policy: quota q per window w seconds
 *   RateLimit: "key-requests";r=0;t=37             the live counters: r remaining, t seconds to reset
 *
 * The policy names say whose window (the key's or its account's) and what it counts. Requests
 * are the draft's default quota unit ("request"); a spend window counts cents, which the draft's
 * unit registry lacks, so it carries the service-specific parameter `x-unit="cents"`. The
 * draft's Integers: the remaining cents are rounded down.
 */
export function rateLimitHeaders(state: RateLimitState, reset = true): Record<string, string> {
  return windowHeaders(`${state.policy}-${state.kind}`, state, reset);
}

/** The same two fields for any named window (`signup-requests`: the /signup limiter's). */
export function windowHeaders(
  policy: string,
  state: Pick<RateLimitState, 'kind' | 'limit' | 'remaining' | 'resetSec' | 'windowSec'>,
  /** False: no reset lets the call pass (it asks more than a whole window), so no `t`. */
  reset = true,
): Record<string, string> {
  const name = `"${policy}"`;
  const unit = state.kind === 'cents' ? ';x-unit="cents"' : '';
  const whole = (n: number) => String(Math.max(0, Math.floor(n)));
  return {
    'RateLimit-Policy': `${name};q=${whole(state.limit)};w=${whole(state.windowSec)}${unit}`,
    RateLimit: `${name};r=${whole(state.remaining)}${reset ? `;t=${whole(Math.max(1, Math.ceil(state.resetSec)))}` : ''}`,
  };
}
