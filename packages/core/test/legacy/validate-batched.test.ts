import { AgentKey, type Queryable } from '@agentkey/core';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * validate's reads are batched (legacy/peeks.ts): concurrent validates share one SELECT, and each
 * answer is the one that validate alone gives — judged at its own call's clock.
 */
describe('validate, batched', () => {
  let db: TestDb | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  /** The store over a pool that counts validate's reads (peek) and touches. */
  async function store(now: () => Date, batching?: false) {
    db = await openDb('postgres');
    const real = db.pool;
    const seen = { peeks: 0, batched: 0 };
    const pool: Queryable = {
      query(text, params) {
        const sql = typeof text === 'string' ? text : String((text as { text?: unknown }).text);
        if (/needs_write/.test(sql)) {
          seen.peeks++;
          if (/ak_ord/.test(sql)) seen.batched++;
        }
        return real.query(text, params);
      },
    };
    const ak = new AgentKey({ pool, tableName: db.table, now, ...(batching === false ? { batching } : {}) });
    await new AgentKey({ pool: real, tableName: db.table, now }).migrate();
    return { ak, seen };
  }

  it('40 concurrent validates (repeats, unknown, revoked, spent keys among them) answer as one by one, in few reads', async () => {
    const clock = { t: Date.parse('2026-06-01T12:00:00Z') };
    const { ak, seen } = await store(() => new Date(clock.t));
    const keys: string[] = [];
    for (let i = 0; i < 10; i++)
      keys.push((await ak.create({ accountId: `a${i % 3}`, budgetCents: 10 })).key);
    const revoked = await ak.create({ accountId: 'a0' });
    await ak.revoke(revoked.id);
    const spent = await ak.create({ accountId: 'a1', budgetCents: 1 });
    await ak.trackUsage(spent.key, { costCents: 1 });
    const unknown = `ak_${'0'.repeat(48)}`;
    const asked = Array.from({ length: 40 }, (_, i) =>
      i % 10 === 7 ? revoked.key : i % 10 === 8 ? spent.key : i % 10 === 9 ? unknown : keys[i % 10]!,
    );
    // Warm last_used_at, so that no answer below writes (a touch would differ between the runs).
    for (const k of asked) await ak.validate(k);
    const alone = [];
    for (const k of asked) alone.push(await ak.validate(k));
    const before = seen.peeks;
    const together = await Promise.all(asked.map((k) => ak.validate(k)));
    expect(together).toEqual(alone);
    expect(together.filter((v) => v.valid).length).toBe(28);
    expect(seen.peeks - before).toBeLessThanOrEqual(4);
    expect(seen.batched).toBeGreaterThan(0);
  });

  it("each call is judged at its own clock: one batch spans a key's expiry", async () => {
    // Every reading of the clock is a second later: the batch's calls carry different times.
    let t = Date.parse('2026-06-01T12:00:00Z');
    const { ak, seen } = await store(() => {
      t += 1000;
      return new Date(t);
    });
    const { key } = await ak.create({ accountId: 'x', notAfter: new Date(t + 10_500) });
    const answers = await Promise.all(Array.from({ length: 20 }, () => ak.validate(key)));
    expect(seen.batched).toBeGreaterThan(0);
    const valid = answers.map((a) => a.valid);
    // The calls before the expiry are valid, every one after it expired; answers come in call order.
    const first = valid.indexOf(false);
    expect(first).toBeGreaterThan(4);
    expect(valid).toEqual([...Array(first).fill(true), ...Array(20 - first).fill(false)]);
    expect(answers.slice(first).every((a) => !a.valid && a.reason === 'expired')).toBe(true);
  });

  it('a stale last_used_at is still touched; batching: false reads call by call', async () => {
    const clock = { t: Date.parse('2026-06-01T12:00:00Z') };
    const { ak } = await store(() => new Date(clock.t));
    const made = await Promise.all(Array.from({ length: 8 }, () => ak.create({ accountId: 'y' })));
    clock.t += 120_000;
    await Promise.all(made.map((m) => ak.validate(m.key)));
    const { rows } = await db!.pool.query(
      `SELECT count(*)::int AS n FROM ${db!.table} WHERE last_used_at = $1`,
      [new Date(clock.t)],
    );
    expect(rows[0].n).toBe(8);
    await db!.close();
    const off = await store(() => new Date(clock.t), false);
    const { key } = await off.ak.create({ accountId: 'z' });
    await Promise.all(Array.from({ length: 5 }, () => off.ak.validate(key)));
    expect(off.seen).toEqual({ peeks: 5, batched: 0 });
  });
});
