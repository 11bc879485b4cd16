import type { AgentKey, CreateKeyOptions } from '@agentkey/core';
import { inParallel } from '@agentkey/test-support/parallel.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const DAY = 86_400_000;
const OVER_LEFT = /^Child budget_cents must not exceed what your key has left to spend\. /;

// POST /sdk-keys as an attacker would use it: a child must never let the caller spend more than it may.
describe.each(LIBS)('POST /sdk-keys budgets on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let clock: ReturnType<Loaded['support']['manualClock']>;
  let server: Served;
  let n = 0;

  const parent = (options: Partial<CreateKeyOptions> = {}) =>
    ak.create({ accountId: `acct_${lib}_${++n}`, ...options });
  const mint = (key: string, body: unknown) => server.request('POST', '/sdk-keys', { key, body });
  const row = async (id: number) =>
    (await db.pool.query(`SELECT * FROM ${db.table} WHERE id = $1`, [id])).rows[0];
  const spend = async (key: string, cents: number) => (await ak.authorize(key, { costCents: cents })).ok;
  /** Charges 1 ¢ `times` times on each key, concurrently; returns how many went through. */
  const drain = async (keys: string[], times: number) => {
    const ops = keys.flatMap((key) => Array.from({ length: times }, () => () => spend(key, 1)));
    return (await inParallel(ops, 8)).filter(Boolean).length;
  };
  /** Cents charged to these keys according to the ledger. */
  const ledgerCents = async (ids: number[]) => {
    const result = await db.pool.query(
      `SELECT COALESCE(sum(amount_micros), 0)::float8 AS m FROM ${db.table}_ledger
        WHERE principal_id = ANY($1::int[]) AND kind = 'charge'`,
      [ids],
    );
    return Number(result.rows[0].m) / 10_000;
  };

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    ({ ak, db } = await env.support.openStore('postgres', { now: clock.now }));
    const app = env.express();
    app.use(env.express.json());
    app.use(env.pkg.createAgentKeyRoutes(ak, { now: clock.now, onError: () => {} }));
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await db.close();
  });

  it('holds a child to what a spent caller has left (spent and held), not to its whole cap', async () => {
    const p = await parent({ budgetCents: 100 });
    expect(await spend(p.key, 60)).toBe(true);
    const before = await countRows(db);
    for (const budget_cents of [100, 41]) {
      const reply = await mint(p.key, { budget_cents });
      expect([budget_cents, reply.status]).toEqual([budget_cents, 403]);
      expect(reply.body.error).toMatch(OVER_LEFT);
    }
    expect(await countRows(db)).toBe(before);
    const fits = await mint(p.key, { budget_cents: 40 });
    expect([fits.status, fits.body.budgetCents]).toEqual([201, 40]);
    // The check only reads: it leaves nothing counting against the caller.
    expect(Number((await row(p.id)).held_micros)).toBe(0);

    // An open hold counts as spent.
    const q = await parent({ budgetCents: 100 });
    expect(await spend(q.key, 60)).toBe(true);
    expect((await ak.reserve(q.key, { maxCents: 30 })).ok).toBe(true);
    expect((await mint(q.key, { budget_cents: 11 })).status).toBe(403);
    expect((await mint(q.key, { budget_cents: 10 })).status).toBe(201);
  });

  it('keeps an unspent caller as 0.2.0 had it, but mints the child on its pool', async () => {
    const p = await parent({ budgetCents: 100 });
    const reply = await mint(p.key, { budget_cents: 100 });
    expect([reply.status, reply.body.budgetCents]).toEqual([201, 100]);
    expect((await row(reply.body.id)).pool_parent_id).toBe(p.id);
    // Both may spend, but only the caller's 100 in all.
    expect(await drain([p.key, reply.body.key], 100)).toBe(100);
    // An unlimited caller's child still gets a budget of its own (0.2.0), unless it asks for the pool.
    const free = await parent();
    const own = await mint(free.key, { budget_cents: 100 });
    expect((await row(own.body.id)).pool_parent_id).toBeNull();
    const asked = await mint(free.key, { pool: 'own' });
    expect([asked.status, (await row(asked.body.id)).pool_parent_id]).toEqual([201, null]);
  });

  it("refuses pool 'own' from a capped caller", async () => {
    const p = await parent({ budgetCents: 100 });
    const before = await countRows(db);
    const reply = await mint(p.key, { budget_cents: 10, pool: 'own' });
    expect([reply.status, reply.body]).toEqual([
      403,
      {
        error:
          "pool 'own' is not allowed for a key with a budget or a pool: its children always share that budget",
      },
    ]);
    expect(await countRows(db)).toBe(before);
  });

  it("never lets 20 concurrent children and their parent together pass the parent's cap", async () => {
    const p = await parent({ budgetCents: 100 });
    // 20 × 5 fits the cap: all are minted.
    const kids = await Promise.all(Array.from({ length: 20 }, () => mint(p.key, { budget_cents: 5 })));
    expect(kids.map((k) => k.status)).toEqual(Array(20).fill(201));
    const keys = [p.key, ...kids.map((k) => k.body.key as string)];
    // 0.2.0 gave each child 5 of its own: 200 would go through.
    expect(await drain(keys, 10)).toBe(100);
    expect(await ledgerCents([p.id, ...kids.map((k) => k.body.id as number)])).toBe(100);
    expect((await ak.getKey(p.id))!.budget.usedCents).toBe(100);

    // Larger children race on what is left: whichever are minted, the sum stays at the cap.
    const q = await parent({ budgetCents: 100 });
    const racing = await Promise.all(Array.from({ length: 20 }, () => mint(q.key, { budget_cents: 100 })));
    expect(racing.every((k) => k.status === 201 || k.status === 403)).toBe(true);
    const minted = racing.filter((k) => k.status === 201);
    expect(minted.length).toBeGreaterThan(0);
    const racers = [q.key, ...minted.map((k) => k.body.key as string)];
    expect(await drain(racers, Math.ceil(150 / racers.length))).toBe(100);
    expect(await ledgerCents([q.id, ...minted.map((k) => k.body.id as number)])).toBe(100);
  });

  it('puts grandchildren on the root pool, and refuses a pooled child with its own cap', async () => {
    const root = await parent({ budgetCents: 100 });
    // A child on the pool without a cap of its own: it used to look unlimited and mint unlimited keys.
    const shared = await mint(root.key, { pool: 'parent' });
    expect(shared.status).toBe(201);
    const unlimited = await mint(shared.body.key, {});
    expect([unlimited.status, unlimited.body]).toEqual([
      403,
      { error: 'Child budget_cents must be set and not exceed your budget of 100' },
    ]);
    expect((await mint(shared.body.key, { budget_cents: 10, pool: 'own' })).status).toBe(403);
    const grandchild = await mint(shared.body.key, { budget_cents: 100 });
    expect(grandchild.status).toBe(201);
    expect((await row(grandchild.body.id)).pool_parent_id).toBe(root.id);
    expect(await drain([root.key, shared.body.key, grandchild.body.key], 50)).toBe(100);

    // A child with a cap of its own: its children would land on the root, out of that cap's reach.
    const other = await parent({ budgetCents: 100 });
    const capped = await mint(other.key, { budget_cents: 50 });
    expect(capped.status).toBe(201);
    const before = await countRows(db);
    for (const body of [{ budget_cents: 50 }, { pool: 'parent' }]) {
      const reply = await mint(capped.body.key, body);
      expect([reply.status, reply.body]).toEqual([
        403,
        {
          error:
            "This key shares its parent's budget and has a cap of its own, so it cannot mint keys: their spending would not count against that cap",
        },
      ]);
    }
    expect(await countRows(db)).toBe(before);
  });

  it("holds a periodic caller's child to what is left this period", async () => {
    const p = await parent({ budgetCents: 100, budgetPeriod: 'day' });
    expect(await spend(p.key, 70)).toBe(true);
    expect((await mint(p.key, { budget_cents: 31, budget_period: 'day' })).status).toBe(403);
    const today = await mint(p.key, { budget_cents: 30, budget_period: 'day' });
    expect(today.status).toBe(201);
    expect(await drain([p.key, today.body.key], 30)).toBe(30);
    // A new day: the caller's 100 is back, and a child renewing less often than it may take it all.
    clock.advance(DAY);
    const monthly = await mint(p.key, { budget_cents: 100, budget_period: 'month' });
    expect(monthly.status).toBe(201);
    expect(await spend(monthly.body.key, 100)).toBe(true);
    expect([await spend(p.key, 1), await spend(today.body.key, 1)]).toEqual([false, false]);
    // The next day the pool is back, but the monthly child's own 100 is spent for the month.
    clock.advance(DAY);
    expect([await spend(monthly.body.key, 1), await spend(p.key, 1)]).toEqual([false, true]);
  });
});
