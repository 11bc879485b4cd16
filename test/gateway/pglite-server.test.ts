import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedPGlite, servePGlite } from '../../examples/gateway/src/pglite-server.js';

/**
 * The gateway's served PGlite (one backend session shared by every client): each client holds the
 * session for a whole batch or transaction, and what a client leaves behind is cleared.
 */

let db: PGlite;
let served: ServedPGlite;
let pool: pg.Pool;

beforeAll(async () => {
  db = await PGlite.create();
  served = await servePGlite(db, { idleMs: 200 });
  pool = new pg.Pool({ connectionString: served.url, max: 6 });
  pool.on('error', () => {});
  await pool.query('CREATE TABLE counter (n integer NOT NULL)');
  await pool.query('INSERT INTO counter VALUES (0)');
});
afterAll(async () => {
  await pool?.end();
  await served?.close();
  await db?.close();
});

async function client(url = served.url): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('servePGlite', () => {
  it("never runs one client's Parse between another's Parse and Bind", async () => {
    // Each query has its own text (so a statement bound to the wrong Parse shows in `k`), and every
    // third carries a parameter large enough to arrive in several socket reads.
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        pool.query(`SELECT $1::int AS v, length($2::text) AS n, ${i} AS k`, [
          i,
          i % 3 === 0 ? 'y'.repeat(300_000) : 'x',
        ]),
      ),
    );
    answers.forEach((r, i) => {
      expect(r.rows[0]).toEqual({ v: i, n: i % 3 === 0 ? 300_000 : 1, k: i });
    });
  });

  it('keeps transactions apart: read-then-write increments lose nothing', async () => {
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          const { rows } = await c.query<{ n: number }>('SELECT n FROM counter');
          await new Promise((resolve) => setImmediate(resolve));
          await c.query('UPDATE counter SET n = $1', [rows[0]!.n + 1]);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      }),
    );
    expect((await pool.query('SELECT n FROM counter')).rows[0].n).toBe(30);
  });

  it('rolls back a client that leaves mid-transaction and clears its session state', async () => {
    const before = (await pool.query('SELECT n FROM counter')).rows[0].n;
    const c = await client();
    await c.query('BEGIN');
    await c.query('UPDATE counter SET n = n + 1000');
    await c.query({ name: 'left-behind', text: 'SELECT 1 AS one' });
    await c.query("SET application_name = 'left-behind'");
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await pool.query('SELECT n FROM counter')).rows[0].n).toBe(before);
    const d = await client();
    // The same statement name parses afresh (no 42P05), and the SET is gone.
    expect((await d.query({ name: 'left-behind', text: 'SELECT 2 AS one' })).rows).toEqual([{ one: 2 }]);
    expect((await d.query('SHOW application_name')).rows[0].application_name).not.toBe('left-behind');
    await d.end();
  });

  it('cuts off a client that holds the session idle, so the others go on', async () => {
    const c = await client();
    const closed = new Promise<void>((resolve) => c.on('end', () => resolve()));
    await c.query('BEGIN');
    await c.query('UPDATE counter SET n = -1');
    // Waits behind the idle transaction until it is cut off and rolled back.
    const { rows } = await pool.query('SELECT n FROM counter');
    expect(rows[0].n).not.toBe(-1);
    await closed;
  });

  it('refuses a wrong password with one error', async () => {
    const url = new URL(served.url);
    expect(url.hostname).toBe('127.0.0.1');
    url.password = 'not-the-password';
    await expect(client(url.href)).rejects.toThrow('password authentication failed');
  });
});
