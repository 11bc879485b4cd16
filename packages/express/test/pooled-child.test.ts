import type { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBS, type Loaded, load, type Served, serve } from './support/http.js';

/**
 * What a 0.2.0 app (reference/agentkey-0.2.0.md, "POST /sdk-keys") sees of children on a pool: it
 * gates with agentKeyMiddleware (validate) and bills with trackUsage afterwards, so the gate must
 * refuse what the pool refuses. Two departures from 0.2.0 are deliberate (README "Switching"):
 * both are what stops a parent and its children from spending more than the parent's cap.
 */
describe.each(LIBS)('children on a pool, seen by a 0.2.0 app, on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let server: Served;
  let n = 0;

  const mint = (key: string, body: unknown) => server.request('POST', '/sdk-keys', { key, body });

  beforeAll(async () => {
    env = await load(lib);
    ({ ak, db } = await env.support.openStore('postgres'));
    const app = env.express();
    app.use(env.express.json());
    app.use(env.pkg.createAgentKeyRoutes(ak, { onError: () => {} }));
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await db.close();
  });

  it('departure: a child with a cap of its own mints no grandchildren (0.2.0 answered 201)', async () => {
    const root = await ak.create({ accountId: `acct_${lib}_${++n}`, budgetCents: 100 });
    const child = await mint(root.key, { budget_cents: 50 });
    expect(child.status).toBe(201);
    // Pools never nest: a grandchild would land on the root, where the child's 50 does not reach.
    const grandchild = await mint(child.body.key, { budget_cents: 20 });
    expect([grandchild.status, grandchild.body.error]).toEqual([
      403,
      "This key shares its parent's budget and has a cap of its own, so it cannot mint keys: their spending would not count against that cap",
    ]);
  });

  it("departure: a parent's budgetUsedCents and budget_used_cents count its children's spend", async () => {
    const root = await ak.create({ accountId: `acct_${lib}_${++n}`, budgetCents: 100 });
    const child = await mint(root.key, { budget_cents: 100 });
    expect((await ak.trackUsage(child.body.key, { costCents: 30 })).success).toBe(true);
    // 0.2.0 showed [0, 100]: the parent's row is the pool's counter, so it shows what the pool spent.
    const me = await server.request('GET', '/sdk-keys/me', { key: root.key });
    expect([me.body.budgetUsedCents, me.body.budgetRemainingCents]).toEqual([30, 70]);
    const column = await db.pool.query(`SELECT budget_used_cents FROM ${db.table} WHERE id = $1`, [root.id]);
    expect(column.rows[0].budget_used_cents).toBe(30);
  });
  it("a child whose parent's pool is spent gets 429 from agentKeyMiddleware, not free calls", async () => {
    const root = await ak.create({ accountId: `acct_${lib}_${++n}`, budgetCents: 100 });
    const child = await mint(root.key, { budget_cents: 100 });
    expect((await ak.trackUsage(root.key, { costCents: 100 })).success).toBe(true);
    // The 0.2.0 app: gate with the middleware, do the work, then bill with trackUsage.
    const calls: Array<[number, boolean]> = [];
    for (let i = 0; i < 3; i++) {
      const gate = await server.request('GET', '/sdk-keys/me', { key: child.body.key });
      const billed = (await ak.trackUsage(child.body.key, { costCents: 10 })).success;
      calls.push([gate.status, billed]);
    }
    // 0.2.0 child (own budget): 3 billed calls. Here: refused at the gate, or billed; never served free.
    expect(calls.filter(([status, billed]) => status === 200 && !billed)).toEqual([]);
  });

  it("a pooled child is refused by agentKeyMiddleware once its pool's key is revoked", async () => {
    const root = await ak.create({ accountId: `acct_${lib}_${++n}`, budgetCents: 100 });
    const child = await mint(root.key, { budget_cents: 100 });
    const other = await ak.create({ accountId: (await ak.getKey(root.id))!.accountId });
    expect((await server.request('DELETE', `/sdk-keys/${root.id}`, { key: root.key })).status).toBe(200);
    const me = await server.request('GET', '/sdk-keys/me', { key: child.body.key });
    const del = await server.request('DELETE', `/sdk-keys/${other.id}`, { key: child.body.key });
    expect([me.status, del.status]).toEqual([401, 401]);
  });
});
