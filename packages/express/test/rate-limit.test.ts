import { describe, expect, it } from 'vitest';
import { FixedWindowLimiter, rateLimitOf } from '../src/rate-limit.js';

function limiter(max: number, windowMs: number, maxClients?: number) {
  let t = 1_000_000;
  const l = new FixedWindowLimiter(
    rateLimitOf({ max, windowMs, ...(maxClients ? { maxClients } : {}) }, 10),
    () => t,
  );
  return { l, advance: (ms: number) => (t += ms) };
}

describe('FixedWindowLimiter', () => {
  it('allows max per window per client, then says how long to wait', () => {
    const { l, advance } = limiter(2, 10_000);
    expect(l.hit('a')).toEqual({ ok: true });
    expect(l.hit('a')).toEqual({ ok: true });
    expect(l.hit('a')).toEqual({ ok: false, retryAfterSec: 10 });
    expect(l.hit('b')).toEqual({ ok: true });
    advance(9_001);
    expect(l.hit('a')).toEqual({ ok: false, retryAfterSec: 1 });
    advance(999);
    expect(l.hit('a')).toEqual({ ok: true });
  });

  it('does not count refused requests', () => {
    const { l, advance } = limiter(1, 1000);
    l.hit('a');
    for (let i = 0; i < 5; i++) expect(l.hit('a').ok).toBe(false);
    advance(1000);
    expect(l.hit('a').ok).toBe(true);
  });

  it('keeps memory bounded, dropping expired windows first and then the oldest', () => {
    const { l, advance } = limiter(1, 1000, 3);
    l.hit('a');
    l.hit('b');
    l.hit('c');
    l.hit('d');
    expect(l.size).toBe(3);
    expect(l.hit('b').ok).toBe(false); // b, c and d are remembered: a was the oldest
    expect(l.hit('a').ok).toBe(true);
    advance(1000);
    for (const c of ['x', 'y', 'z', 'w']) l.hit(c);
    expect(l.size).toBe(3);
  });

  it('reads a number as per hour and defaults to the fallback', () => {
    expect(rateLimitOf(5, 10)).toEqual({ max: 5, windowMs: 3_600_000, maxClients: 10_000 });
    expect(rateLimitOf(undefined, 10)).toEqual({ max: 10, windowMs: 3_600_000, maxClients: 10_000 });
    expect(() => rateLimitOf(1.5, 10)).toThrow(/max must be a positive integer/);
    expect(() => rateLimitOf({ max: 1, windowMs: 1000, maxClients: 0 }, 10)).toThrow(/maxClients/);
  });
});
