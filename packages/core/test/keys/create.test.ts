import { AgentKeyInputError } from '@agentkey/core';
import { BACKENDS, manualClock, openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HOUR = 3_600_000;

describe.each(BACKENDS)('create: notAfter (%s)', (backend) => {
  let db: TestDb;
  let ak: Awaited<ReturnType<typeof openStore>>['ak'];
  const clock = manualClock(new Date('2026-05-01T08:00:00Z'));
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  const storedExpiry = async (id: number) =>
    (await db.pool.query(`SELECT expires_at FROM ${db.table} WHERE id = $1`, [id])).rows[0].expires_at;

  it('caps the expiry at notAfter, with or without expiresIn, and keeps an earlier expiresIn', async () => {
    const limit = new Date(clock.now().getTime() + HOUR);
    const capped = await ak.create({ accountId: 'na_1', expiresIn: '2h', notAfter: limit });
    const onlyLimit = await ak.create({ accountId: 'na_1', notAfter: limit });
    const earlier = await ak.create({ accountId: 'na_1', expiresIn: '30m', notAfter: limit });
    expect([capped.expiresAt, onlyLimit.expiresAt]).toEqual([limit.toISOString(), limit.toISOString()]);
    expect(new Date(await storedExpiry(capped.id)).toISOString()).toBe(limit.toISOString());
    expect(earlier.expiresAt).toBe(new Date(clock.now().getTime() + HOUR / 2).toISOString());
    expect((await ak.validate(capped.key)).valid).toBe(true);
    clock.advance(HOUR);
    expect(await ak.validate(capped.key)).toMatchObject({ valid: false, reason: 'expired' });
  });

  it('refuses a notAfter that is not a valid Date, naming it, and writes nothing', async () => {
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM ${db.table}`)).rows[0].n;
    for (const notAfter of ['2026-06-01', new Date('nope'), 5]) {
      const attempt = ak.create({ accountId: 'na_2', notAfter: notAfter as never });
      await expect(attempt).rejects.toThrow(AgentKeyInputError);
      await expect(attempt).rejects.toMatchObject({ field: 'notAfter' });
    }
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM ${db.table}`)).rows[0].n).toBe(before);
  });
});
