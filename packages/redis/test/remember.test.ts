import { describe, expect, it } from 'vitest';
import { remember } from '../src/relay-wire.js';

/** The bounded maps of the counter (where rows live) and the relay (leaders, peers). */
describe('remember', () => {
  it('never holds more than max, the newest kept, the oldest dropped first', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 1_000; i++) {
      remember(map, `k${i}`, i, 160);
      expect(map.size).toBeLessThanOrEqual(160);
    }
    for (let i = 850; i < 1_000; i++) expect(map.get(`k${i}`)).toBe(i);
    for (let i = 0; i < 800; i++) expect(map.has(`k${i}`)).toBe(false);
  });

  it('drops a sixteenth of max in one pass, not one entry per insert', () => {
    const map = new Map<string, number>();
    const sizes: number[] = [];
    for (let i = 0; i < 400; i++) {
      remember(map, `k${i}`, i, 160);
      sizes.push(map.size);
    }
    expect(sizes.slice(158, 163)).toEqual([159, 160, 150, 151, 152]);
    expect(Math.min(...sizes.slice(160))).toBe(150);
  });

  it('a key already held is updated in place: nothing is dropped for it', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 160; i++) remember(map, `k${i}`, i, 160);
    remember(map, 'k0', 42, 160);
    expect(map.size).toBe(160);
    expect(map.get('k0')).toBe(42);
  });
});
