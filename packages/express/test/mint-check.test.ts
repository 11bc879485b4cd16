import type { AgentKey, Queryable } from '@agentkey/core';
import { inParallel } from '@agentkey/test-support/parallel.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const DAY = 86_400_000;
/** The mint check's reads: getKey (admin columns) and getAccount. */
const CHECK_READ = /key_prefix, pool_parent_id|_accounts"? a WHERE account_id = \$1/;
/** The create that follows the check. */
const CREATE = /^\s*(?:WITH x AS \()?INSERT INTO \S+ \(account_id, user_id, key_hash/;
/** What an earlier design's check did: a 1-s hold on the caller, released at once. */
const RELEASE = /^\s*WITH kl AS|_close_hold\(/;

/**
 * POST /sdk-keys' check that a child's budget fits what the caller has left is read-only: it holds
 * nothing and writes no ledger row, so a slow, failed or lost reply can block no sibling's charge
 * and leave nothing counting. What keeps caller and descendants within the cap is the pool the
 * children are minted on. Real PostgreSQL, behind a pool that can stall, fail or lose statements.
 */
describe.each(LIBS)('POST /sdk-keys mint check on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openDb']>>;
  let clock: ReturnType<Loaded['support']['manualClock']>;
  let server: Served;
  const errors: unknown[] = [];
  let n = 0;
  /** Runs before each statement: may wait (a slow statement) or throw (a failed one). */
  let fault: ((text: string, params: unknown[]) => Promise<void> | void) | null = null;
  /** When true for a statement's params, it runs but its reply is lost (an in-doubt commit). */
  let lostReply: ((text: string, params: unknown[]) => boolean) | null = null;

  const root = (budgetCents: number | null, extra: Record<string, unknown> = {}) =>
    ak.create({ accountId: `acct_${lib}_${++n}`, budgetCents, ...extra });
  const mint = (key: string, body: unknown) => server.request('POST', '/sdk-keys', { key, body });
  const track = async (key: string, cents: number) =>
    (await ak.trackUsage(key, { costCents: cents })).success;
  const charged = async (ids: number[]) => {
    const r = await db.pool.query(
      `SELECT COALESCE(sum(amount_micros), 0)::float8 AS m FROM ${db.table}_ledger
        WHERE principal_id = ANY($1::int[]) AND kind IN ('charge', 'settle')`,
      [ids],
    );
    return Number(r.rows[0].m) / 10_000;
  };

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    db = await env.support.openDb('postgres');
    const pool: Queryable = {
      query: async (text: string, params: unknown[] = []) => {
        if (fault) await fault(text, params);
        const result = await db.pool.query(text, params);
        if (lostReply?.(text, params)) throw new Error('connection reset after commit');
        return result;
      },
    };
    ak = new env.core.AgentKey({ pool, tableName: db.table, now: clock.now });
    await ak.migrate();
    const app = env.express();
    app.use(env.express.json());
    app.use(env.pkg.createAgentKeyRoutes(ak, { now: clock.now, onError: (e: unknown) => errors.push(e) }));
    server = await serve(app);
  });
  afterAll(async () => {
    fault = null;
    await server.close();
    await db.close();
  });

  it("a mint in flight never refuses a sibling's charge that fits the pool", async () => {
    const r = await root(100);
    const sibling = await mint(r.key, { pool: 'parent' });
    expect(sibling.status).toBe(201);
    // Stall the mint after its check (at the release an earlier design did, or at the create).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => {
      entered = resolve;
    });
    fault = async (text) => {
      if (RELEASE.test(text) || CREATE.test(text)) {
        fault = null;
        entered();
        await gate;
      }
    };
    const minting = mint(r.key, { budget_cents: 50 });
    await reached;
    // Nothing is spent: 60, then 40, of 100 fit. 0.2.0: "a charge that would pass the cap is refused" only.
    const siblingCharge = await track(sibling.body.key, 60);
    const rootCharge = await track(r.key, 40);
    open();
    expect((await minting).status).toBe(201);
    expect({ siblingCharge, rootCharge }).toEqual({ siblingCharge: true, rootCharge: true });
  });

  it('a mint leaves nothing counting and writes no hold to the ledger', async () => {
    const r = await root(100);
    const sibling = await mint(r.key, { pool: 'parent' });
    const child = await mint(r.key, { budget_cents: 100 });
    expect(child.status).toBe(201);
    const holds = await db.pool.query(
      `SELECT count(*)::int AS n FROM ${db.table}_ledger WHERE principal_id = $1 AND kind <> 'admin:create'`,
      [r.id],
    );
    expect(holds.rows[0].n).toBe(0);
    expect((await ak.getKey(r.id))!.budget.heldCents).toBe(0);
    // The whole pool is free at once, and then spent for every key on it.
    expect(await track(sibling.body.key, 100)).toBe(true);
    expect(await track(child.body.key, 1)).toBe(false);
  });

  it("a pooled child's open hold counts against the caller's mints until it expires", async () => {
    const r = await root(100);
    const c = await mint(r.key, { pool: 'parent' });
    expect((await ak.reserve(c.body.key, { maxCents: 100, ttl: 1000 })).ok).toBe(true);
    const held = await mint(r.key, { budget_cents: 1 });
    expect([held.status, held.body.error]).toEqual([
      403,
      'Child budget_cents must not exceed what your key has left to spend. Your key has 0 cents left.',
    ]);
    clock.advance(1001);
    // The hold has expired: the mint check and the caller's own charges see 100 free.
    expect((await mint(r.key, { budget_cents: 100 })).status).toBe(201);
    expect(await track(r.key, 100)).toBe(true);
  });

  it('fails closed when the check cannot reach the store: 500, no key minted', async () => {
    const r = await root(100);
    const before = await countRows(db);
    for (const failing of [CHECK_READ, /_accounts"? a WHERE account_id = \$1/]) {
      fault = (text, params) => {
        // This design's reads, or an earlier design's 77-cent hold.
        if (failing.test(text) || params.some((p) => p === 770_000 || p === '770000')) {
          throw new Error('store down');
        }
      };
      const reply = await mint(r.key, { budget_cents: 77 });
      fault = null;
      expect([reply.status, reply.body]).toEqual([500, { error: 'Failed to create key' }]);
    }
    expect(await countRows(db)).toBe(before);
  });

  it("a check whose reply is lost (500) leaves nothing counting against the caller's pool", async () => {
    const r = await root(100);
    const sibling = await mint(r.key, { pool: 'parent' });
    const before = await countRows(db);
    // Lose the reply of each of the check's statements in turn (this design's reads, or an earlier
    // design's 88-cent hold), until a mint runs through with nothing lost.
    for (let k = 0; ; k++) {
      let seen = 0;
      lostReply = (text, params) =>
        (CHECK_READ.test(text) || params.some((p) => p === 880_000 || p === '880000')) && seen++ === k;
      const reply = await mint(r.key, { budget_cents: 88 });
      lostReply = null;
      if (reply.status === 201) break;
      expect([k, reply.status]).toEqual([k, 500]);
      // DESIGN guarantee 6: an unavailable answer never leaves a hold counting. Nothing was minted.
      expect([k, (await ak.getKey(r.id))!.budget.heldCents, await countRows(db)]).toEqual([k, 0, before]);
    }
    expect(await track(sibling.body.key, 100)).toBe(true);
  });

  it('a cap set on an unlimited caller while its mint is in flight: the child is as if minted first', async () => {
    // Documented, not prevented: the mint read the caller as unlimited, so the child gets a budget
    // of its own, exactly as one minted a moment before the cap. A cap reaches only later children.
    const r = await root(null);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => {
      entered = resolve;
    });
    fault = async (text) => {
      if (CREATE.test(text)) {
        fault = null;
        entered();
        await gate;
      }
    };
    const minting = mint(r.key, { budget_cents: 500 });
    await reached;
    await ak.update(r.id, { budgetCents: 100 });
    open();
    const early = await minting;
    expect([early.status, (await ak.getKey(early.body.id))!.poolParentId]).toEqual([201, null]);
    // The next mint sees the cap: on the pool, within what is left.
    expect((await mint(r.key, { budget_cents: 500 })).status).toBe(403);
    const late = await mint(r.key, { budget_cents: 100 });
    expect([late.status, (await ak.getKey(late.body.id))!.poolParentId]).toEqual([201, r.id]);
  });

  it('keeps caller + descendants within the cap: concurrent mints during spending, grandchildren', async () => {
    const r = await root(100);
    const shared = await mint(r.key, { pool: 'parent' });
    const ops: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 60; i++) ops.push(() => track(r.key, 1));
    for (let i = 0; i < 8; i++) ops.push(() => mint(r.key, { budget_cents: 40 }));
    for (let i = 0; i < 8; i++) ops.push(() => mint(shared.body.key, { budget_cents: 40 }));
    const results = await inParallel(
      ops.sort(() => 0.5 - Math.random()),
      8,
    );
    const minted = results
      .filter((x): x is { status: number; body: { key: string; id: number } } => typeof x === 'object')
      .filter((x) => x.status === 201)
      .map((x) => x.body);
    const keys = [r.key, shared.body.key, ...minted.map((m) => m.key)];
    const more = await inParallel(
      keys.flatMap((k) => Array.from({ length: 20 }, () => () => track(k, 1))),
      8,
    );
    const ids = [r.id, shared.body.id, ...minted.map((m) => m.id)];
    expect(results.filter((x) => x === true).length + more.filter(Boolean).length).toBe(100);
    expect(await charged(ids)).toBe(100);
  });

  it('a periodic caller: children with no period or a longer one spend no more than 100 a day', async () => {
    const r = await root(100, { budgetPeriod: 'day' });
    const none = await mint(r.key, { budget_cents: 100 });
    const monthly = await mint(r.key, { budget_cents: 100, budget_period: 'month' });
    const shared = await mint(r.key, { pool: 'parent', budget_period: 'day' });
    expect([none.status, monthly.status, shared.status]).toEqual([201, 201, 201]);
    const keys = [r.key, none.body.key, monthly.body.key, shared.body.key];
    const ids = [r.id, none.body.id, monthly.body.id, shared.body.id];
    let total = 0;
    for (let day = 0; day < 3; day++) {
      const got = await inParallel(
        keys.flatMap((k) => Array.from({ length: 60 }, () => () => track(k, 1))),
        8,
      );
      const today = got.filter(Boolean).length;
      expect([day, today]).toEqual([day, 100]);
      total += today;
      clock.advance(DAY);
    }
    expect(await charged(ids)).toBe(total);
  });

  it('revoking the root (from a child) and un-revoking it by SQL never widens the pool', async () => {
    const r = await root(100);
    const child = await mint(r.key, { budget_cents: 100 });
    expect(await track(child.body.key, 30)).toBe(true);
    const revoked = await server.request('DELETE', `/sdk-keys/${r.id}`, { key: child.body.key });
    expect(revoked.status).toBe(200);
    expect(await track(child.body.key, 1)).toBe(false);
    await db.pool.query(`UPDATE ${db.table} SET revoked_at = NULL WHERE id = $1`, [r.id]);
    const late = await mint(r.key, { budget_cents: 70 });
    expect(late.status).toBe(201);
    const got = await inParallel(
      [r.key, child.body.key, late.body.key].flatMap((k) =>
        Array.from({ length: 50 }, () => () => track(k, 1)),
      ),
      8,
    );
    expect(got.filter(Boolean).length).toBe(70);
  });

  it("an account ceiling below the caller's cap bounds the child's budget and the spending", async () => {
    const r = await root(100);
    const account = (await ak.getKey(r.id))!.accountId;
    await ak.setAccountBudget(account, { budgetCents: 50 });
    const over = await mint(r.key, { budget_cents: 60 });
    expect(over.status).toBe(403);
    const fits = await mint(r.key, { budget_cents: 50 });
    expect(fits.status).toBe(201);
    const got = await inParallel(
      [r.key, fits.body.key].flatMap((k) => Array.from({ length: 40 }, () => () => track(k, 1))),
      8,
    );
    expect(got.filter(Boolean).length).toBe(50);
  });

  it('a daily account ceiling whose reset has passed counts as fresh in the mint check', async () => {
    const r = await root(1000);
    const account = (await ak.getKey(r.id))!.accountId;
    await ak.setAccountBudget(account, { budgetCents: 50, budgetPeriod: 'day' });
    expect(await track(r.key, 50)).toBe(true);
    const spent = await mint(r.key, { budget_cents: 1 });
    expect([spent.status, spent.body.error]).toEqual([
      403,
      'Child budget_cents must not exceed what your key has left to spend. Your account has 0 cents left.',
    ]);
    // Nothing has rolled the account's row since its reset passed: a new call could use all 50.
    clock.advance(DAY);
    expect((await mint(r.key, { budget_cents: 50 })).status).toBe(201);
  });
});
