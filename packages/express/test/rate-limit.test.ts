import { describe, expect, it } from 'vitest';
import { rateLimitOf } from '../src/rate-limit.js';

// The limiter itself is the store's (core's rateLimitHit, test/authorize/rate-window.test.ts) and
// /signup's (signup.test.ts): here, its options.
describe('signupRateLimit options', () => {
  it('reads a number as per hour and defaults to the fallback', () => {
    expect(rateLimitOf(5, 10)).toEqual({ max: 5, windowMs: 3_600_000, maxClients: 10_000 });
    expect(rateLimitOf(undefined, 10)).toEqual({ max: 10, windowMs: 3_600_000, maxClients: 10_000 });
    expect(() => rateLimitOf(1.5, 10)).toThrow(/max must be a positive integer/);
    expect(() => rateLimitOf({ max: 1, windowMs: 1000, maxClients: 0 }, 10)).toThrow(/maxClients/);
    // The store counts windows of at most a day.
    expect(() => rateLimitOf({ max: 1, windowMs: 86_400_001 }, 10)).toThrow(/at most a day/);
    expect(rateLimitOf({ max: 1, windowMs: 86_400_000 }, 10).windowMs).toBe(86_400_000);
  });
});
