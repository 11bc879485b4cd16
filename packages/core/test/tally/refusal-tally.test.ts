import { connect, createServer, type Server, type Socket } from 'node:net';
import { AgentKey, AgentKeyInputError, type Queryable } from '@agentkey/core';
import { databaseUrl, manualClock, openStore, twoProcesses } from '@agentkey/test-support/db.js';
import { freePort } from '@agentkey/test-support/ports.js';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

/** The tally table's counts by code (all minutes). */
async function tallied(pool: Queryable, table: string): Promise<Record<string, number>> {
  const { rows } = await pool.query(`SELECT code, sum(count)::int AS n FROM ${table}_refusals GROUP BY code`);
  return Object.fromEntries(rows.map((r: { code: string; n: number }) => [r.code, r.n]));
}

/** A real TCP path to the shared PostgreSQL that can be absent (nothing listening) and come back. */
async function cuttableLink() {
  const port = await freePort();
  const target = new URL(databaseUrl());
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  return {
    url: `postgres://${target.username || 'postgres'}@127.0.0.1:${port}${target.pathname}`,
    up: () =>
      new Promise<void>((resolve) => {
        server = createServer((client) => {
          const upstream = connect(Number(target.port || 5432), target.hostname);
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('error', () => {});
            s.on('close', () => sockets.delete(s));
          }
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    down: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (server) server.close(() => resolve());
        else resolve();
        server = null;
      }),
  };
}

describe('the refusal tally', () => {
  it('sums concurrent refusals of two processes exactly, by code, in the minute table', async () => {
    const { db, a, b } = await twoProcesses();
    try {
      const key = await a.create({ accountId: 'acct', name: 'tiny', budgetCents: 1 });
      const round = (ak: AgentKey) =>
        Promise.all([
          ...Array.from({ length: 60 }, () => ak.authorize('not a key')),
          ...Array.from({ length: 40 }, () => ak.authorize({ key: key.key }, { costCents: 5 })),
          ...Array.from({ length: 20 }, () => ak.reserve({ key: key.key }, { maxCents: 5 })),
          ...Array.from({ length: 10 }, () => ak.authorize({ key: key.key }, { costCents: 0 })),
        ]);
      const answers = (await Promise.all([round(a), round(b), round(a)])).flat();
      // The ten free calls per round pass: passes are not counted.
      expect(answers.filter((r) => r.ok)).toHaveLength(30);
      await Promise.all([a.close(), b.close()]);
      expect(await tallied(db.pool, db.table)).toEqual({ invalid_token: 180, budget_exceeded: 180 });
      // A second close writes nothing twice.
      await a.close();
      expect(await tallied(db.pool, db.table)).toEqual({ invalid_token: 180, budget_exceeded: 180 });
    } finally {
      await db.close();
    }
  });

  it('keeps the counts of a flush the database could not take, and writes them once it is back', async () => {
    const { db } = await openStore('postgres');
    const link = await cuttableLink();
    const pool = new pg.Pool({ connectionString: link.url, max: 2, connectionTimeoutMillis: 2000 });
    const reported: string[] = [];
    const ak = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: 2000,
      onError: (_e, context) => reported.push(context),
    });
    try {
      // Nothing listens: the malformed credentials are refused without the database.
      const malformed = {} as never;
      for (let i = 0; i < 7; i++) expect((await ak.authorize(malformed)).ok).toBe(false);
      await ak.close();
      await ak.close();
      expect(reported.filter((c) => c.startsWith('refusal tally: flush'))).toHaveLength(1);
      // And the database's own refusals while it is down: unavailable.
      const down = await ak.authorize('ak_0000000000000000000000000000000000000000');
      expect(down).toMatchObject({ ok: false, error: { code: 'unavailable' } });
      expect(await tallied(db.pool, db.table)).toEqual({});
      await link.up();
      await ak.close();
      expect(await tallied(db.pool, db.table)).toEqual({ invalid_token: 7, unavailable: 1 });
    } finally {
      await ak.close();
      await pool.end();
      await link.down();
      await db.close();
    }
  });

  it('close() returns by its deadline when the database never answers, keeping the counts', async () => {
    const { db } = await openStore('postgres');
    // A server that accepts connections and never says a word: a frozen database.
    const silent = createServer(() => {});
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', () => resolve()));
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, max: 1 });
    pool.on('error', () => {});
    const reported: string[] = [];
    const ak = new AgentKey({
      pool,
      tableName: db.table,
      timeoutMs: 100,
      onError: (_e, c) => reported.push(c),
    });
    try {
      await ak.authorize('garbage');
      await ak.close();
      expect(reported).toContain('refusal tally: close');
    } finally {
      silent.close();
      await db.close();
    }
  });

  it('prunes minutes past the retention, a bounded number per flush, and keeps the recent ones', async () => {
    const clock = manualClock(new Date('2026-03-15T12:00:30Z'));
    const { db, ak } = await openStore('postgres', { now: clock.now, refusalTally: { retentionDays: 2 } });
    try {
      await db.pool.query(
        `INSERT INTO ${db.table}_refusals (minute, code, count)
         SELECT timestamptz '2026-03-13T11:00:00Z' - g * interval '1 minute', 'rate_limited', 1 FROM generate_series(1, 1500) g
         UNION ALL SELECT timestamptz '2026-03-14T12:00:00Z', 'budget_exceeded', 5`,
      );
      await ak.authorize('garbage');
      await ak.close();
      const left = async () =>
        (
          await db.pool.query(
            `SELECT code, count(*)::int AS n FROM ${db.table}_refusals GROUP BY code ORDER BY code`,
          )
        ).rows;
      // 1,000 of the 1,500 old minutes go in this flush; the rest in the next one.
      expect(await left()).toEqual([
        { code: 'budget_exceeded', n: 1 },
        { code: 'invalid_token', n: 1 },
        { code: 'rate_limited', n: 500 },
      ]);
      await ak.authorize('garbage');
      await ak.close();
      expect(await left()).toEqual([
        { code: 'budget_exceeded', n: 1 },
        { code: 'invalid_token', n: 1 },
      ]);
      const minute = await db.pool.query(
        `SELECT minute, count FROM ${db.table}_refusals WHERE code = 'invalid_token'`,
      );
      expect(minute.rows).toEqual([{ minute: new Date('2026-03-15T12:00:00Z'), count: '2' }]);
    } finally {
      await db.close();
    }
  });

  it('flushes by itself every flushMs', async () => {
    const { db, ak } = await openStore('postgres', { refusalTally: { flushMs: 100 } });
    try {
      await ak.authorize('garbage');
      await expect.poll(() => tallied(db.pool, db.table), { timeout: 10_000 }).toEqual({ invalid_token: 1 });
    } finally {
      await ak.close();
      await db.close();
    }
  });

  it('writes nothing with refusalTally: false, and refuses a bad option by name', async () => {
    const { db, ak } = await openStore('postgres', { refusalTally: false });
    try {
      await ak.authorize('garbage');
      await ak.close();
      expect(await tallied(db.pool, db.table)).toEqual({});
      for (const bad of [{ flushMs: 10 }, { flushMs: 1.5 }, { retentionDays: 0 }, 'often', []]) {
        expect(
          () => new AgentKey({ pool: db.pool, tableName: db.table, refusalTally: bad as never }),
        ).toThrow(AgentKeyInputError);
      }
    } finally {
      await db.close();
    }
  });

  it('goes quiet, reporting nothing, when the app ends its pool without ak.close()', async () => {
    const { db } = await openStore('postgres');
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const reported: string[] = [];
    const ak = new AgentKey({
      pool,
      tableName: db.table,
      refusalTally: { flushMs: 100 },
      onError: (_e, c) => reported.push(c),
    });
    try {
      await ak.authorize('garbage');
      await pool.end();
      // Several flush intervals pass: a flush on an ended pool can never succeed, so none is reported.
      await new Promise((r) => setTimeout(r, 500));
      expect(reported).toEqual([]);
      // A pool that merely fails (not ended by its owner) is still reported: see the cut-link test.
    } finally {
      await db.close();
    }
  });
});
