import { AgentKey, type AuthorizeResult, PreparedStatementLostError } from '@agentkey/core';
import { databaseUrl, openDb, type TestDb } from '@agentkey/test-support/db.js';
import { type Bouncer, startPgBouncer } from '@agentkey/test-support/pgbouncer.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A private PgBouncer 1.18 in transaction pooling mode (no max_prepared_statements) with two
// server connections: every transaction may get the other one, as behind a production bouncer.
describe('through PgBouncer in transaction mode (server only)', () => {
  let bouncer: Bouncer;
  let db: TestDb;
  const pools: pg.Pool[] = [];
  const pool = (max: number) => {
    const p = new pg.Pool({ connectionString: bouncer.url, max });
    pools.push(p);
    return p;
  };
  let holder: pg.Pool;

  beforeAll(async () => {
    bouncer = await startPgBouncer(databaseUrl(), 2);
    db = await openDb('postgres');
    holder = pool(1);
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db.close();
    await bouncer.stop();
  });

  /** A store on a one-connection pool through the bouncer: pg keeps its statements per client connection. */
  async function store(table: string, options: { preparedStatements?: boolean } = {}) {
    const reports: unknown[] = [];
    const ak = new AgentKey({
      pool: pool(1),
      tableName: `${db.schema}.${table}`,
      descriptorTtlMs: 0,
      onError: (error) => reports.push(error),
      ...options,
    });
    await ak.migrate();
    return { ak, reports };
  }

  /**
   * Runs `work` while another client holds the server connection the last statement ran on (the
   * bouncer hands out the most recently used first): `work` runs on the other one.
   */
  async function elsewhere<T>(work: () => Promise<T>): Promise<T> {
    const session = await holder.connect();
    try {
      await session.query('BEGIN');
      await session.query('SELECT 1');
      return await work();
    } finally {
      await session.query('COMMIT');
      session.release();
    }
  }

  const used = async (table: string, id: number) =>
    Number(
      (await db.pool.query(`SELECT budget_used_micros FROM ${db.schema}.${table} WHERE id = $1`, [id]))
        .rows[0].budget_used_micros,
    );

  it('preparedStatements: true fails the call with an error naming the option, and charges nothing', async () => {
    const { ak, reports } = await store('explicit', { preparedStatements: true });
    const { key, id } = await ak.create({ accountId: 'acme', budgetCents: 100 });
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true });
    const lost = await elsewhere(() => ak.authorize(key, { costCents: 1 }));
    expect(lost).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const cause = (lost as Extract<AuthorizeResult, { ok: false }>).error.cause;
    expect(cause).toBeInstanceOf(PreparedStatementLostError);
    expect((cause as Error).message).toMatch(/PgBouncer before 1\.21.*set preparedStatements: false$/);
    expect(reports).toEqual([cause]);
    expect(await used('explicit', id)).toBe(10_000);
    // The 0.2.0 calls reject with it.
    expect(await ak.validate(key)).toMatchObject({ valid: true });
    await expect(elsewhere(() => ak.validate(key))).rejects.toBeInstanceOf(PreparedStatementLostError);
    // Refused before it ran: nothing left in doubt to void later.
    await ak.resolveInDoubt();
    expect(await used('explicit', id)).toBe(10_000);
  });

  it('left to the default, the lost statement is sent as plain text: charged once, said once', async () => {
    const { ak, reports } = await store('fallback');
    const { key, id } = await ak.create({ accountId: 'acme', budgetCents: 100 });
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true });
    expect(await elsewhere(() => ak.authorize(key, { costCents: 2 }))).toMatchObject({ ok: true });
    expect(await elsewhere(() => ak.authorize(key, { costCents: 3 }))).toMatchObject({ ok: true });
    expect(await used('fallback', id)).toBe(60_000);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(PreparedStatementLostError);
    expect((reports[0] as Error).message).toMatch(
      /plain statements from now on; set preparedStatements: false/,
    );
  });

  it('a statement another client connection parsed on the same server connection (42P05) falls back too', async () => {
    const a = await store('twice');
    const { key, id } = await a.ak.create({ accountId: 'acme', budgetCents: 100 });
    expect(await a.ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true });
    // b's first call parses the same statement, on the server connection a just gave back.
    const reports: unknown[] = [];
    const b = new AgentKey({
      pool: pool(1),
      tableName: `${db.schema}.twice`,
      descriptorTtlMs: 0,
      onError: (error) => reports.push(error),
    });
    expect(await b.authorize(key, { costCents: 2 })).toMatchObject({ ok: true });
    expect(reports.map((e) => (e as PreparedStatementLostError).code)).toEqual(['42P05']);
    expect(await used('twice', id)).toBe(30_000);
  });

  it('preparedStatements: false runs plain statements from the start and reports nothing', async () => {
    const { ak, reports } = await store('plain', { preparedStatements: false });
    const { key, id } = await ak.create({ accountId: 'acme', budgetCents: 100 });
    expect(await ak.authorize(key, { costCents: 1 })).toMatchObject({ ok: true });
    expect(await elsewhere(() => ak.authorize(key, { costCents: 1 }))).toMatchObject({ ok: true });
    expect(await used('plain', id)).toBe(20_000);
    expect(reports).toEqual([]);
  });

  it('two stores falling back at once under 120 parallel calls stop exactly at the cap', async () => {
    const a = await store('race');
    const b = new AgentKey({ pool: pool(4), tableName: `${db.schema}.race`, onError: () => {} });
    const { key, id } = await a.ak.create({ accountId: 'acme', budgetCents: 50 });
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => (i % 2 ? a.ak : b).authorize(key, { costCents: 1 })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    expect(results.filter((r) => !r.ok && r.error.code === 'budget_exceeded')).toHaveLength(70);
    expect(await used('race', id)).toBe(50 * 10_000);
  });

  it('concurrent migrations serialise on their transaction-scoped advisory lock', async () => {
    const tableName = `${db.schema}.migrated`;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        new AgentKey({ pool: pool(1), tableName, preparedStatements: false }).migrate(),
      ),
    );
    const ak = new AgentKey({ pool: pool(1), tableName, preparedStatements: false });
    const { key } = await ak.create({ accountId: 'acme', budgetCents: 5 });
    expect(await ak.authorize(key, { costCents: 5 })).toMatchObject({ ok: true });
    // No advisory lock outlives its transaction on either of the bouncer's server connections.
    const both = pool(2);
    const sessions = [await both.connect(), await both.connect()];
    try {
      await Promise.all(sessions.map((s) => s.query('BEGIN')));
      const pids = await Promise.all(
        sessions.map(async (s) => (await s.query('SELECT pg_backend_pid() AS pid')).rows[0].pid),
      );
      expect(new Set(pids).size).toBe(2);
      const { rows } = await sessions[0]!.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = ANY($1)`,
        [pids],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await Promise.all(sessions.map((s) => s.query('COMMIT')));
      for (const s of sessions) s.release();
    }
  });
  it("a pool whose startup parameters the bouncer refuses (pg's options: a search_path) fails closed with a cause that names the setting to change", async () => {
    const { ak } = await store('startup');
    const { key, id } = await ak.create({ accountId: 'acct-startup', budgetCents: 10 });
    const refusing = new pg.Pool({
      connectionString: bouncer.url,
      max: 1,
      options: `-c search_path=${db.schema}`,
    });
    pools.push(refusing);
    const other = new AgentKey({ pool: refusing, tableName: `${db.schema}.startup`, descriptorTtlMs: 0 });
    const r = await other.authorize(key, { costCents: 1 });
    expect(r.ok ? 'ok' : r.error.code).toBe('unavailable');
    const cause = (r as { error: { cause?: unknown } }).error.cause as Error;
    expect(cause.message).toMatch(
      /refused the pool's startup parameter options: set it on the role or database/,
    );
    expect((cause.cause as Error).message).toMatch(/unsupported startup parameter/);
    // Nothing was charged by the refused call: the key still has its whole budget.
    expect((await ak.getKey(id))!.budget.usedCents).toBe(0);
  });
});
