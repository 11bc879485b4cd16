import { AgentKey, type Queryable } from '@agentkey/core';
import {
  BACKENDS,
  manualClock,
  openStore,
  STRESS_TIMEOUT_MS,
  type TestDb,
} from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MINUTE = 60_000;

describe.each(BACKENDS)('withChildKey (%s)', (backend) => {
  let db: TestDb;
  let ak: AgentKey;
  const clock = manualClock(new Date('2026-04-10T12:00:00Z'));
  let n = 0;
  beforeAll(async () => {
    ({ db, ak } = await openStore(backend, { now: clock.now }));
  });
  afterAll(() => db.close());

  /** A store on the same table whose pool records every statement and can fail one of them. */
  const watched = (failAfterInsert = false) => {
    const texts: string[] = [];
    let insertedAt = -1;
    const pool: Queryable = {
      query: async (text: string, params?: unknown[]) => {
        texts.push(text);
        if (insertedAt === -1 && /'admin:create'/.test(text)) insertedAt = texts.length;
        else if (failAfterInsert && insertedAt !== -1 && texts.length === insertedAt + 1) {
          throw new Error('the connection dropped');
        }
        return db.pool.query(text, params);
      },
    };
    const store = new AgentKey({ pool, tableName: db.table, now: clock.now, timeoutMs: STRESS_TIMEOUT_MS });
    return { store, texts };
  };
  const parentExpiringIn = (ms: number) =>
    ak.create({ accountId: `child_${++n}`, scopes: ['chat'], expiresIn: `${ms / MINUTE}m` });
  const childRows = async (parentId: number) =>
    (
      await db.pool.query(
        `SELECT id, date_part('epoch', expires_at) * 1000 AS expires_ms, revoked_at FROM ${db.table}
          WHERE pool_parent_id = $1`,
        [parentId],
      )
    ).rows.map((r) => ({ id: r.id, expiresMs: Number(r.expires_ms), revoked: r.revoked_at !== null }));

  it('writes a child that would outlive its parent with the parent’s expiry, in its one INSERT', async () => {
    const parent = await parentExpiringIn(10 * MINUTE);
    const parentExpiry = clock.now().getTime() + 10 * MINUTE;
    const { store, texts } = watched();
    const seen = await store.withChildKey(parent.key, { expiresIn: '1h' }, async (child) => {
      const writes = texts.filter((t) => /\b(INSERT INTO|UPDATE)\b/.test(t) && t.includes("'admin:"));
      const ledger = await db.pool.query(`SELECT kind FROM ${db.table}_ledger WHERE principal_id = $1`, [
        child.id,
      ]);
      return {
        child,
        writes: writes.length,
        kinds: ledger.rows.map((r) => r.kind),
        rows: await childRows(parent.id),
      };
    });
    expect(seen.child.expiresAt).toBe(new Date(parentExpiry).toISOString());
    expect(seen.rows).toEqual([{ id: seen.child.id, expiresMs: parentExpiry, revoked: false }]);
    // One audited write made the child: no UPDATE followed to pull its expiry back.
    expect(seen.writes).toBe(1);
    expect(seen.kinds).toEqual(['admin:create']);
  });

  it('keeps the child’s own expiry when it ends before the parent’s', async () => {
    const parent = await parentExpiringIn(60 * MINUTE);
    const expiry = await ak.withChildKey(parent.key, { expiresIn: '5m' }, async (child) => child.expiresAt);
    expect(expiry).toBe(new Date(clock.now().getTime() + 5 * MINUTE).toISOString());
    expect((await childRows(parent.id))[0]?.expiresMs).toBe(clock.now().getTime() + 5 * MINUTE);
  });

  it('leaves no child that outlives its parent when the statement after the INSERT fails', async () => {
    const parent = await parentExpiringIn(10 * MINUTE);
    const parentExpiry = clock.now().getTime() + 10 * MINUTE;
    const { store } = watched(true);
    await expect(store.withChildKey(parent.key, { expiresIn: '1h' }, () => 1)).rejects.toThrow(
      'the connection dropped',
    );
    const rows = await childRows(parent.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.expiresMs).toBeLessThanOrEqual(parentExpiry);
  });

  it('withChildKey revokes the child when fn settles, even when it throws', async () => {
    const parent = await ak.create({ accountId: 'wck', scopes: ['chat'], budgetCents: 10 });
    let childKey = '';
    const value = await ak.withChildKey(parent.key, { scopes: ['chat'], expiresIn: '5m' }, async (child) => {
      childKey = child.key;
      expect(await ak.authorize(child.key, { scope: 'chat', costCents: 4 })).toMatchObject({ ok: true });
      return 42;
    });
    expect(value).toBe(42);
    expect(await ak.validate(childKey)).toEqual({ valid: false, reason: 'revoked' });
    expect(await ak.authorize(parent.key, { costCents: 7 })).toMatchObject({ ok: false }); // 4 already used by the child
    await expect(
      ak.withChildKey(parent.key, {}, async (child) => {
        childKey = child.key;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await ak.validate(childKey)).toEqual({ valid: false, reason: 'revoked' });
    await expect(ak.withChildKey(parent.key, { scopes: ['admin'] }, () => 1)).rejects.toThrow(/scopes/);
  });
});
