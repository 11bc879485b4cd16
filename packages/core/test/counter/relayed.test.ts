import { describe, expect, it } from 'vitest';
import { chargeRequest } from '../../src/authorize/charge.js';
import { fromRelayed, toRelayed } from '../../src/authorize/relayed.js';

// A relayed charge crossed Redis: the leader checks every field before charging anything.
const request = chargeRequest(
  'authorize',
  { scope: 'chat', costCents: 2 },
  undefined,
  undefined,
  Date.now() + 5000,
);
const now = new Date(1_790_000_000_000);
const good = toRelayed({ by: 'key_hash', value: 'a'.repeat(64) }, now, request);

describe('relayed charges (counter/port.ts Relay)', () => {
  it('a charge comes back as the call it was: same lookup, clock, cost, scope, request id and deadline', () => {
    const served = fromRelayed(JSON.parse(JSON.stringify(good)));
    expect(served?.lookup).toEqual({ by: 'key_hash', value: 'a'.repeat(64) });
    expect(served?.now.getTime()).toBe(now.getTime());
    expect(served?.request).toMatchObject({
      micros: request.micros,
      scope: 'chat',
      tokenGrants: true,
      rid: request.rid,
      holdTtlMs: 0,
      holdMicros: 0,
      idem: null,
      meta: null,
    });
  });

  it.each([
    ['not an object', 'charge'],
    ['null', null],
    ['another selector', { ...good, by: 'id' }],
    ['an empty value', { ...good, value: '' }],
    ['a value too long to be a hash or subject', { ...good, value: 'x'.repeat(1025) }],
    ['a request id that is no UUID', { ...good, rid: "x'; DROP TABLE keys; --" }],
    ['a clock that is no whole ms', { ...good, nowMs: 1.5 }],
    ['a deadline as text', { ...good, ttlMs: String(good.ttlMs) }],
    ['a deadline already passed', { ...good, ttlMs: 0 }],
    ['a deadline past any store timeout', { ...good, ttlMs: 60_001 }],
    ['a cost of zero', { ...good, micros: 0 }],
    ['a negative cost', { ...good, micros: -10_000 }],
    ['a cost past exact integers', { ...good, micros: 2 ** 60 }],
    ['a scope with control characters', { ...good, scope: 'chat\u0000' }],
    ['tokenGrants as text', { ...good, tokenGrants: 'true' }],
  ])('refuses %s', (_, charge) => {
    expect(fromRelayed(charge)).toBeNull();
  });
});
