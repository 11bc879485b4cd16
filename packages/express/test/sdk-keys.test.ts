import type { AgentKey, CreateKeyOptions } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const HOUR = 3_600_000;

describe.each(LIBS)('authenticated /sdk-keys routes on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let clock: ReturnType<Loaded['support']['manualClock']>;
  let server: Served;
  const servers: Served[] = [];
  const errors: unknown[] = [];
  let n = 0;

  /** A parent key on a fresh account. */
  const parent = (options: Partial<CreateKeyOptions> = {}) =>
    ak.create({ accountId: `acct_${lib}_${++n}`, ...options });
  const rowOf = async (id: number) =>
    (await db.pool.query(`SELECT * FROM ${db.table} WHERE id = $1`, [id])).rows[0];
  const mint = (key: string, body: unknown) => server.request('POST', '/sdk-keys', { key, body });

  async function serveRoutes(store: AgentKey, options: Record<string, unknown> = {}) {
    const app = env.express();
    app.use(env.express.json());
    app.use(
      env.pkg.createAgentKeyRoutes(store, { now: clock.now, onError: (e) => errors.push(e), ...options }),
    );
    const served = await serve(app);
    servers.push(served);
    return served;
  }

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    ({ ak, db } = await env.support.openStore('postgres', { now: clock.now }));
    server = await serveRoutes(ak);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await db.close();
  });

  describe('GET /sdk-keys/me', () => {
    it("returns the caller's validate result", async () => {
      const key = await parent({ userId: 'u_me', scopes: ['usage.read'], budgetCents: 50 });
      const reply = await server.request('GET', '/sdk-keys/me', { key: key.key });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual(await ak.validate(key.key));
      expect(reply.body).toMatchObject({
        id: key.id,
        userId: 'u_me',
        budgetCents: 50,
        scopes: ['usage.read'],
      });
    });

    it('answers 401 without a valid key', async () => {
      expect((await server.request('GET', '/sdk-keys/me')).body).toEqual({ error: 'Missing API key' });
      const unknown = await server.request('GET', '/sdk-keys/me', { key: 'ak_nope' });
      expect([unknown.status, unknown.body]).toEqual([401, { error: 'invalid' }]);
    });
  });

  describe('POST /sdk-keys', () => {
    it("mints a child in the caller's account, delegated by the caller's user", async () => {
      const p = await parent({ userId: 'u_parent', scopes: ['usage.read', 'proxy.chat'] });
      const reply = await mint(p.key, { scopes: ['usage.read'], name: 'child' });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ scopes: ['usage.read'], budgetCents: null, expiresAt: null });
      const child = await ak.validate(reply.body.key);
      const mine = await ak.validate(p.key);
      expect(child).toMatchObject({
        valid: true,
        accountId: mine.valid && mine.accountId,
        userId: 'u_parent',
        delegatedBy: 'u_parent',
        name: 'child',
      });
    });

    it('delegates by the account when the caller has no user', async () => {
      const p = await parent();
      const reply = await mint(p.key, {});
      expect((await rowOf(reply.body.id)).delegated_by).toBe((await rowOf(p.id)).account_id);
    });

    it("gives omitted scopes the caller's", async () => {
      const p = await parent({ scopes: ['usage.read', 'proxy.chat'] });
      expect((await mint(p.key, {})).body.scopes).toEqual(['usage.read', 'proxy.chat']);
      const none = await parent({ scopes: [] });
      expect((await mint(none.key, {})).body.scopes).toEqual([]);
      const unlimited = await parent({ scopes: null });
      expect((await mint(unlimited.key, {})).body.scopes).toBeNull();
    });

    it('refuses scope escalation with 403 and writes nothing', async () => {
      const p = await parent({ scopes: ['usage.read'] });
      for (const [scopes, extra] of [
        [['usage.read', 'proxy.chat', 'admin'], 'proxy.chat, admin'],
        [['admin'], 'admin'],
      ] as const) {
        const before = await countRows(db);
        const reply = await mint(p.key, { scopes });
        // 0.2.0's exact body.
        expect([reply.status, reply.body]).toEqual([
          403,
          { error: `Cannot grant scopes you do not have: ${extra}` },
        ]);
        expect(await countRows(db)).toBe(before);
      }
    });

    it('lets an unlimited or admin caller grant any scope', async () => {
      for (const scopes of [null, ['admin']]) {
        const p = await parent({ scopes });
        const reply = await mint(p.key, { scopes: ['billing.write', 'admin'] });
        expect([reply.status, reply.body.scopes]).toEqual([201, ['billing.write', 'admin']]);
      }
    });

    it("holds a capped caller's child to at most its budget", async () => {
      const p = await parent({ budgetCents: 100 });
      for (const body of [{}, { budget_cents: null }, { budget_cents: 101 }]) {
        const before = await countRows(db);
        const reply = await mint(p.key, body);
        expect([reply.status, reply.body]).toEqual([
          403,
          { error: 'Child budget_cents must be set and not exceed your budget of 100' },
        ]);
        expect(await countRows(db)).toBe(before);
      }
      const at = await mint(p.key, { budget_cents: 100 });
      expect([at.status, at.body.budgetCents]).toEqual([201, 100]);
      const uncapped = await parent();
      expect((await mint(uncapped.key, {})).body.budgetCents).toBeNull();
    });

    it("pool: 'parent' mints children that share the caller's cap instead of multiplying it", async () => {
      const p = await parent({ budgetCents: 10 });
      const bad = await mint(p.key, { pool: 'everyone' });
      expect([bad.status, bad.body]).toEqual([400, { error: "pool must be 'parent' or 'own'" }]);
      const kids = await Promise.all([mint(p.key, { pool: 'parent' }), mint(p.key, { pool: 'parent' })]);
      expect(kids.map((k) => k.status)).toEqual([201, 201]);
      expect(await ak.authorize(kids[0]!.body.key, { costCents: 6 })).toMatchObject({ ok: true });
      // 0.2.0 would give the second child a fresh 10: on the pool only 4 are left.
      expect(await ak.authorize(kids[1]!.body.key, { costCents: 5 })).toMatchObject({
        ok: false,
        error: { code: 'budget_exceeded' },
      });
      expect(await ak.authorize(p.key, { costCents: 4 })).toMatchObject({
        ok: true,
        budget: { usedCents: 10 },
      });
      expect((await rowOf(kids[0]!.body.id)).pool_parent_id).toBe(p.id);
    });

    it("never lets a child's budget renew more often than the caller's", async () => {
      const lifetime = await parent({ budgetCents: 100 });
      expect((await mint(lifetime.key, { budget_cents: 10, budget_period: 'day' })).status).toBe(403);
      const monthly = await parent({ budgetCents: 100, budgetPeriod: 'month' });
      expect((await mint(monthly.key, { budget_cents: 10, budget_period: 'day' })).status).toBe(403);
      expect((await mint(monthly.key, { budget_cents: 10, budget_period: 'month' })).status).toBe(201);
      expect((await mint(monthly.key, { budget_cents: 10 })).status).toBe(201);
      const daily = await parent({ budgetCents: 100, budgetPeriod: 'day' });
      expect((await mint(daily.key, { budget_cents: 10, budget_period: 'day' })).status).toBe(201);
    });

    it("holds an expiring caller's child to end no later than the caller", async () => {
      const p = await parent({ expiresIn: '2h' });
      for (const body of [{}, { expires_in: null }, { expires_in: '121m' }, { expires_in: '1d' }]) {
        const before = await countRows(db);
        const reply = await mint(p.key, body);
        expect([reply.status, reply.body]).toEqual([
          403,
          { error: "Child key expiry must be set and not exceed your key's expiry" },
        ]);
        expect(await countRows(db)).toBe(before);
      }
      const ok = await mint(p.key, { expires_in: '2h' });
      expect([ok.status, ok.body.expiresAt]).toEqual([
        201,
        new Date(clock.now().getTime() + 2 * HOUR).toISOString(),
      ]);
      clock.advance(HOUR);
      expect((await mint(p.key, { expires_in: '61m' })).status).toBe(403);
      expect((await mint(p.key, { expires_in: '60m' })).status).toBe(201);
      const forever = await parent();
      expect((await mint(forever.key, {})).body.expiresAt).toBeNull();
    });

    it("pulls a child's expiry back to the caller's when the store's clock runs ahead", async () => {
      // The routes' clock is a minute behind the store's: the check passes, the store stamps later.
      const behind = await serveRoutes(ak, { now: () => new Date(clock.now().getTime() - 60_000) });
      const p = await parent({ expiresIn: '1h' });
      const reply = await behind.request('POST', '/sdk-keys', { key: p.key, body: { expires_in: '61m' } });
      expect(reply.status).toBe(201);
      const parentExpiry = (await rowOf(p.id)).expires_at.toISOString();
      expect(reply.body.expiresAt).toBe(parentExpiry);
      expect((await rowOf(reply.body.id)).expires_at.toISOString()).toBe(parentExpiry);
    });

    it("writes an expiring caller's child with its capped expiry in the one INSERT: no update follows", async () => {
      const texts: string[] = [];
      const pool = {
        query: (text: string, params?: unknown[]) => {
          texts.push(text);
          return db.pool.query(text, params);
        },
      };
      const store = new env.core.AgentKey({ pool, tableName: db.table, now: clock.now });
      const behind = await serveRoutes(store, { now: () => new Date(clock.now().getTime() - 60_000) });
      const p = await parent({ expiresIn: '1h' });
      const reply = await behind.request('POST', '/sdk-keys', { key: p.key, body: { expires_in: '61m' } });
      expect(reply.status).toBe(201);
      expect((await rowOf(reply.body.id)).expires_at.toISOString()).toBe(
        (await rowOf(p.id)).expires_at.toISOString(),
      );
      expect(texts.filter((t) => t.includes("'admin:create'"))).toHaveLength(1);
      expect(texts.filter((t) => t.includes("'admin:update'"))).toEqual([]);
    });

    it('answers 400 for bad types before any attenuation check, and writes nothing', async () => {
      const p = await parent({ scopes: ['usage.read'], budgetCents: 100, expiresIn: '1h' });
      const cases: Array<[unknown, RegExp]> = [
        [{ scopes: 'usage.read' }, /^scopes must be an array of strings$/],
        [{ scopes: ['bad scope'] }, /^Invalid scopes: bad scope$/],
        [{ budget_cents: '50' }, /^budget_cents must be a whole number/],
        [{ budget_cents: 10.5 }, /^budget_cents must be a whole number/],
        [{ budget_period: 'hour' }, /^Invalid budget period: hour$/],
        [{ expires_in: 30 }, /^Invalid duration: number$/],
        [{ expires_in: '30 minutes' }, /^Invalid duration: 30 minutes$/],
        [{ budget_cents: 10, expires_in: '1h', name: 'x'.repeat(10_240) }, /^name must be/],
        [{ budget_cents: 10, expires_in: '1h', name: 'a\u0000b' }, /^name must be/],
        [[1, 2], /^Request body must be a JSON object$/],
      ];
      for (const [body, error] of cases) {
        const before = await countRows(db);
        const reply = await mint(p.key, body);
        expect({ body, status: reply.status }).toEqual({ body, status: 400 });
        expect(reply.body.error).toMatch(error);
        expect(await countRows(db)).toBe(before);
      }
    });

    it('answers 401 without a key, and 500 when the store fails to create', async () => {
      expect((await server.request('POST', '/sdk-keys', { body: {} })).status).toBe(401);
      const real = db.pool;
      const failingInsert = {
        query: (text: string, params?: unknown[]) =>
          /INSERT INTO \S+ \(account_id/.test(text)
            ? Promise.reject(new Error('insert failed'))
            : real.query(text, params),
      };
      const flaky = new env.core.AgentKey({ pool: failingInsert, tableName: db.table, now: clock.now });
      const s = await serveRoutes(flaky);
      const p = await parent();
      errors.length = 0;
      const reply = await s.request('POST', '/sdk-keys', { key: p.key, body: {} });
      expect([reply.status, reply.body]).toEqual([500, { error: 'Failed to create key' }]);
      expect((errors[0] as Error).message).toBe('insert failed');
    });
  });

  describe('DELETE /sdk-keys/:id', () => {
    it("revokes a key of the caller's account", async () => {
      const p = await parent();
      const sibling = await mint(p.key, {});
      const reply = await server.request('DELETE', `/sdk-keys/${sibling.body.id}`, { key: p.key });
      expect([reply.status, reply.body]).toEqual([200, { revoked: true }]);
      expect(await ak.validate(sibling.body.key)).toEqual({ valid: false, reason: 'revoked' });
      const again = await server.request('DELETE', `/sdk-keys/${sibling.body.id}`, { key: p.key });
      expect(again.status).toBe(404);
    });

    it("answers 404 for another account's key, which stays valid", async () => {
      const mine = await parent();
      const theirs = await parent();
      const reply = await server.request('DELETE', `/sdk-keys/${theirs.id}`, { key: mine.key });
      expect([reply.status, reply.body]).toEqual([404, { error: 'Key not found' }]);
      expect(await ak.validate(theirs.key)).toMatchObject({ valid: true });
      const missing = await server.request('DELETE', '/sdk-keys/2147483647', { key: mine.key });
      expect(missing.status).toBe(404);
    });

    it('answers 400 for a non-numeric id, and 404 for a number no key can have (as 0.2.0)', async () => {
      const p = await parent();
      for (const id of ['abc', '12abc', '1.5', '+1', encodeURIComponent("1' OR '1'='1")]) {
        const reply = await server.request('DELETE', `/sdk-keys/${id}`, { key: p.key });
        expect([id, reply.status, reply.body]).toEqual([id, 400, { error: 'Invalid key ID' }]);
      }
      for (const id of ['0', '-1', `-${p.id}`, '2147483648', '99999999999', '9'.repeat(40)]) {
        const reply = await server.request('DELETE', `/sdk-keys/${id}`, { key: p.key });
        expect([id, reply.status, reply.body]).toEqual([id, 404, { error: 'Key not found' }]);
      }
      expect(await ak.validate(p.key)).toMatchObject({ valid: true });
    });

    it('answers 401 without a key, and 500 when the store fails to revoke', async () => {
      expect((await server.request('DELETE', '/sdk-keys/1')).status).toBe(401);
      const real = db.pool;
      const failingRevoke = {
        query: (text: string, params?: unknown[]) =>
          /SET revoked_at/.test(text) ? Promise.reject(new Error('update failed')) : real.query(text, params),
      };
      const flaky = new env.core.AgentKey({ pool: failingRevoke, tableName: db.table, now: clock.now });
      const s = await serveRoutes(flaky);
      const p = await parent();
      const reply = await s.request('DELETE', `/sdk-keys/${p.id}`, { key: p.key });
      expect([reply.status, reply.body]).toEqual([500, { error: 'Failed to revoke key' }]);
    });
  });

  it('answers every authenticated route with 500 auth_unavailable, never a hang, when the store is down', async () => {
    const down = new env.core.AgentKey({ pool: { query: () => Promise.reject(new Error('down')) } });
    const s = await serveRoutes(down);
    const key = `ak_${'2'.repeat(48)}`;
    for (const [method, path] of [
      ['GET', '/sdk-keys/me'],
      ['POST', '/sdk-keys'],
      ['DELETE', '/sdk-keys/1'],
    ] as const) {
      const reply = await s.request(method, path, { key, ...(method === 'POST' ? { body: {} } : {}) });
      expect([path, reply.status, reply.body]).toEqual([path, 500, { error: 'auth_unavailable' }]);
    }
  });
});
