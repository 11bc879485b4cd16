import { describe, expect, it } from 'vitest';
import { TtlCache } from '../../src/authorize/ttl-cache.js';

/** The store's descriptor cache and the verifiers' answer caches (authorize/ttl-cache.ts). */
describe('TtlCache', () => {
  const FAR = Number.MAX_SAFE_INTEGER;

  it('never holds more than max, and drops the oldest first', () => {
    const cache = new TtlCache<number>(160);
    for (let i = 0; i < 1_000; i++) {
      cache.set(`k${i}`, i, FAR, 0);
      expect(cache.size).toBeLessThanOrEqual(160);
    }
    // The newest 150 are always there (160 less a sixteenth), the first ones long gone.
    for (let i = 850; i < 1_000; i++) expect(cache.get(`k${i}`, 0)).toBe(i);
    for (let i = 0; i < 800; i++) expect(cache.get(`k${i}`, 0)).toBeUndefined();
  });

  it('evicts in one pass per sixteenth of max: the size falls to max less a sixteenth, then grows back', () => {
    const cache = new TtlCache<number>(160);
    const sizes: number[] = [];
    for (let i = 0; i < 400; i++) {
      cache.set(`k${i}`, i, FAR, 0);
      sizes.push(cache.size);
    }
    // One entry per insert would keep it at 160 from the 160th insert on.
    expect(sizes.slice(158, 163)).toEqual([159, 160, 150, 151, 152]);
    expect(Math.min(...sizes.slice(160))).toBe(150);
  });

  it('a key set again counts from its last set', () => {
    const cache = new TtlCache<number>(32);
    cache.set('kept', 0, FAR, 0);
    for (let i = 0; i < 100; i++) {
      cache.set(`k${i}`, i, FAR, 0);
      if (i % 8 === 0) cache.set('kept', i, FAR, 0);
    }
    expect(cache.get('kept', 0)).toBe(96);
    expect(cache.get('k0', 0)).toBeUndefined();
  });

  it('keeps a max of 1 exact: the newest entry only', () => {
    const cache = new TtlCache<string>(1);
    cache.set('a', 'a', FAR, 0);
    cache.set('b', 'b', FAR, 0);
    expect(cache.size).toBe(1);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBe('b');
  });

  it('answers nothing at or past an entry’s deadline, and keeps nothing already past it', () => {
    const cache = new TtlCache<string>(10);
    cache.set('a', 'a', 100, 0);
    expect(cache.get('a', 99)).toBe('a');
    expect(cache.get('a', 100)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set('b', 'b', 50, 50);
    expect(cache.size).toBe(0);
  });
});
