import type { AgentKey } from '@agentkey/core';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const HOUR = 3_600_000;

describe.each(LIBS)('POST /signup on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let clock: ReturnType<Loaded['support']['manualClock']>;
  const servers: Served[] = [];
  const errors: unknown[] = [];

  /** A fresh app (and so a fresh rate limiter) with the routes mounted under `options`. */
  async function app(options: Record<string, unknown> = {}, setup?: (app: Express) => void) {
    const a = env.express();
    setup?.(a);
    if (!setup) a.use(env.express.json());
    a.use(
      env.pkg.createAgentKeyRoutes(ak, {
        signupRateLimit: 1000,
        now: clock.now,
        onError: (e) => errors.push(e),
        ...options,
      }),
    );
    const served = await serve(a);
    servers.push(served);
    return served;
  }
  const accountOf = async (id: number) =>
    (await db.pool.query(`SELECT account_id FROM ${db.table} WHERE id = $1`, [id])).rows[0].account_id;

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    ({ ak, db } = await env.support.openStore('postgres', { now: clock.now }));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await db.close();
  });

  it('creates a key on the email account: 201, no scopes, 100 cents, 24 hours', async () => {
    const s = await app();
    const reply = await s.request('POST', '/signup', { body: { email: 'agent@example.com', name: 'bot' } });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({
      key: expect.stringMatching(/^ak_[0-9a-f]{48}$/),
      id: expect.any(Number),
      scopes: [],
      budgetCents: 100,
      budgetPeriod: null,
      expiresAt: new Date(clock.now().getTime() + 24 * HOUR).toISOString(),
    });
    expect(await accountOf(reply.body.id)).toBe('agent@example.com');
    expect(await ak.validate(reply.body.key)).toMatchObject({ valid: true, name: 'bot' });
  });

  it('requires a valid email unless requireEmailForSignup is false', async () => {
    const s = await app();
    for (const email of [undefined, '', 'no-at-sign', 42, ['a@b.c']]) {
      const before = await countRows(db);
      const reply = await s.request('POST', '/signup', { body: { email } });
      expect([reply.status, reply.body]).toEqual([400, { error: 'Valid email is required' }]);
      expect(await countRows(db)).toBe(before);
    }
  });

  it('gives each anonymous signup an account of its own', async () => {
    const s = await app({ requireEmailForSignup: false });
    const a = await s.request('POST', '/signup', { body: {} });
    const b = await s.request('POST', '/signup', { body: {} });
    expect([a.status, b.status]).toEqual([201, 201]);
    const [accountA, accountB] = [await accountOf(a.body.id), await accountOf(b.body.id)];
    expect(accountA).toMatch(/^anon_[0-9a-f]{32}$/);
    expect(accountB).toMatch(/^anon_[0-9a-f]{32}$/);
    expect(accountA).not.toBe(accountB);
    // Neither can touch the other's key.
    const del = await s.request('DELETE', `/sdk-keys/${b.body.id}`, { key: a.body.key });
    expect(del.status).toBe(404);
  });

  it('still uses a given email when the email is optional, and refuses a malformed one', async () => {
    const s = await app({ requireEmailForSignup: false });
    const ok = await s.request('POST', '/signup', { body: { email: 'opt@example.com' } });
    expect(await accountOf(ok.body.id)).toBe('opt@example.com');
    const bad = await s.request('POST', '/signup', { body: { email: 'not an email' } });
    expect(bad.status).toBe(400);
  });

  it('grants only scopes in signupScopes; omitted scopes get all of them', async () => {
    const s = await app({ signupScopes: ['usage.read', 'proxy.chat'] });
    const some = await s.request('POST', '/signup', { body: { email: 'a@x.io', scopes: ['usage.read'] } });
    expect([some.status, some.body.scopes]).toEqual([201, ['usage.read']]);
    const all = await s.request('POST', '/signup', { body: { email: 'a@x.io' } });
    expect(all.body.scopes).toEqual(['usage.read', 'proxy.chat']);
    const before = await countRows(db);
    const admin = await s.request('POST', '/signup', {
      body: { email: 'a@x.io', scopes: ['usage.read', 'admin'] },
    });
    expect(admin.status).toBe(400);
    expect(admin.body).toEqual({
      error: 'Scopes not allowed on signup: admin',
      allowed: ['usage.read', 'proxy.chat'],
    });
    expect(await countRows(db)).toBe(before);
  });

  it('grants no scope at all when signupScopes is unset, and never an unlimited key', async () => {
    const s = await app();
    const asked = await s.request('POST', '/signup', { body: { email: 'a@x.io', scopes: ['usage.read'] } });
    expect(asked.status).toBe(400);
    const nulled = await s.request('POST', '/signup', { body: { email: 'a@x.io', scopes: null } });
    expect([nulled.status, nulled.body.scopes]).toEqual([201, []]);
  });

  it('caps the budget: above the cap is 400, none or null gets the cap, never unlimited', async () => {
    const s = await app({ signupMaxBudgetCents: 500 });
    const over = await s.request('POST', '/signup', { body: { email: 'a@x.io', budget_cents: 501 } });
    expect([over.status, over.body]).toEqual([400, { error: 'budget_cents must not exceed 500 on signup' }]);
    const at = await s.request('POST', '/signup', { body: { email: 'a@x.io', budget_cents: 500 } });
    expect([at.status, at.body.budgetCents]).toEqual([201, 500]);
    const less = await s.request('POST', '/signup', { body: { email: 'a@x.io', budget_cents: 0 } });
    expect(less.body.budgetCents).toBe(0);
    for (const body of [{ email: 'a@x.io' }, { email: 'a@x.io', budget_cents: null }]) {
      const reply = await s.request('POST', '/signup', { body });
      expect([reply.status, reply.body.budgetCents]).toEqual([201, 500]);
    }
  });

  it('caps the expiry: longer than signupMaxExpiresIn is 400, null gets the default', async () => {
    const s = await app({ requireEmailForSignup: false });
    const over = await s.request('POST', '/signup', { body: { expires_in: '8d' } });
    expect([over.status, over.body]).toEqual([400, { error: 'expires_in is longer than signup allows' }]);
    const month = await s.request('POST', '/signup', { body: { expires_in: '1mo' } });
    expect(month.status).toBe(400);
    const at = await s.request('POST', '/signup', { body: { expires_in: '7d' } });
    expect(at.body.expiresAt).toBe(new Date(clock.now().getTime() + 7 * 24 * HOUR).toISOString());
    const nulled = await s.request('POST', '/signup', { body: { expires_in: null } });
    expect(nulled.body.expiresAt).toBe(new Date(clock.now().getTime() + 24 * HOUR).toISOString());

    const custom = await app({
      requireEmailForSignup: false,
      signupMaxExpiresIn: '2h',
      signupDefaultExpiresIn: '30m',
    });
    const dflt = await custom.request('POST', '/signup', { body: {} });
    expect(dflt.body.expiresAt).toBe(new Date(clock.now().getTime() + 30 * 60_000).toISOString());
    expect((await custom.request('POST', '/signup', { body: { expires_in: '3h' } })).status).toBe(400);
  });

  it('answers 400 for a malformed expires_in or budget_period', async () => {
    const s = await app({ requireEmailForSignup: false });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ expires_in: 'forever' }, 'Invalid duration: forever'],
      [{ expires_in: 24 }, 'Invalid duration: number'],
      [{ budget_period: 'year' }, 'Invalid budget period: year'],
      [{ budget_period: ['day'] }, 'Invalid budget period: object'],
    ];
    for (const [body, error] of cases) {
      const before = await countRows(db);
      const reply = await s.request('POST', '/signup', { body });
      expect([reply.status, reply.body]).toEqual([400, { error }]);
      expect(await countRows(db)).toBe(before);
    }
    const daily = await s.request('POST', '/signup', { body: { budget_period: 'day' } });
    expect([daily.status, daily.body.budgetPeriod]).toEqual([201, 'day']);
  });

  it('refuses hostile input with 400 and writes nothing', async () => {
    const s = await app({ requireEmailForSignup: false, signupScopes: ['usage.read'] });
    const big = 'a'.repeat(10 * 1024);
    const cases: Array<Record<string, unknown>> = [
      { email: "x'; DROP TABLE sdk_api_keys; --@example.com" },
      { email: 'a@example.com" OR 1=1 --' },
      { email: 'nul\u0000@example.com' },
      { email: `${big}@example.com` },
      { name: 'nul\u0000byte' },
      { name: big },
      { name: 42 },
      { scopes: 'usage.read' },
      { scopes: { 0: 'usage.read' } },
      { scopes: ['usage\u0000.read'] },
      { scopes: [big] },
      { scopes: [1] },
      { budget_cents: '50' },
      { budget_cents: 1.5 },
      { budget_cents: -1 },
      { budget_cents: 1e300 },
      { budget_cents: true },
      { expires_in: big },
      { expires_in: '1h\u0000' },
      { budget_period: big },
    ];
    for (const body of cases) {
      const before = await countRows(db);
      const reply = await s.request('POST', '/signup', { body });
      expect({ body, status: reply.status }).toEqual({ body, status: 400 });
      expect(typeof reply.body.error).toBe('string');
      expect(reply.body.error.length).toBeLessThan(400);
      expect(await countRows(db)).toBe(before);
    }
    for (const rawBody of ['[1,2]', '"text"', '42']) {
      const before = await countRows(db);
      const reply = await s.request('POST', '/signup', { rawBody });
      expect(reply.status).toBe(400);
      expect(await countRows(db)).toBe(before);
    }
    expect(errors).toEqual([]);
  });

  it('stores a name with SQL metacharacters verbatim, as data', async () => {
    const s = await app({ requireEmailForSignup: false });
    const name = 'Robert\'); DROP TABLE sdk_api_keys; -- "$1" \\';
    const reply = await s.request('POST', '/signup', { body: { name } });
    expect(reply.status).toBe(201);
    const row = await db.pool.query(`SELECT name FROM ${db.table} WHERE id = $1`, [reply.body.id]);
    expect(row.rows[0].name).toBe(name);
  });

  it('limits signups per client address per window, with Retry-After, on the injected clock', async () => {
    const s = await app({ requireEmailForSignup: false, signupRateLimit: { max: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await s.request('POST', '/signup', { body: {} })).status).toBe(201);
    const before = await countRows(db);
    const limited = await s.request('POST', '/signup', { body: {} });
    expect([limited.status, limited.body]).toEqual([429, { error: 'too_many_signups' }]);
    expect(limited.headers.get('retry-after')).toBe('60');
    // The IETF draft's fields, as a key's 429 carries them (rate-headers.ts).
    expect(limited.headers.get('ratelimit-policy')).toBe('"signup-requests";q=3;w=60');
    expect(limited.headers.get('ratelimit')).toBe('"signup-requests";r=0;t=60');
    expect(await countRows(db)).toBe(before);
    clock.advance(30_000);
    const still = await s.request('POST', '/signup', { body: {} });
    expect([still.status, still.headers.get('retry-after')]).toEqual([429, '30']);
    expect(still.headers.get('ratelimit')).toBe('"signup-requests";r=0;t=30');
    clock.advance(30_000);
    expect((await s.request('POST', '/signup', { body: {} })).status).toBe(201);
  });

  it('defaults to 10 signups per hour', async () => {
    const s = await app({ requireEmailForSignup: false, signupRateLimit: undefined });
    for (let i = 0; i < 10; i++) expect((await s.request('POST', '/signup', { body: {} })).status).toBe(201);
    const limited = await s.request('POST', '/signup', { body: {} });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '3600']);
  });

  it('counts each client address on its own behind a trusted proxy', async () => {
    const s = await app({ requireEmailForSignup: false, signupRateLimit: 1 }, (a) => {
      a.set('trust proxy', 'loopback');
      a.use(env.express.json());
    });
    const from = (ip: string) => ({ body: {}, headers: { 'x-forwarded-for': ip } });
    expect((await s.request('POST', '/signup', from('203.0.113.1'))).status).toBe(201);
    expect((await s.request('POST', '/signup', from('203.0.113.1'))).status).toBe(429);
    expect((await s.request('POST', '/signup', from('203.0.113.2'))).status).toBe(201);
    // One IPv6 /64 is one client.
    expect((await s.request('POST', '/signup', from('2001:db8:1:2::1'))).status).toBe(201);
    expect((await s.request('POST', '/signup', from('2001:db8:1:2:ffff::9'))).status).toBe(429);
  });

  it('answers 400 for a body no parser read, and reads no body at all as {}', async () => {
    const anon = await app({ requireEmailForSignup: false }, () => {});
    const reply = await anon.request('POST', '/signup', { body: { budget_cents: 100000 } });
    expect([reply.status, reply.body.error]).toEqual([
      400,
      expect.stringContaining('app.use(express.json())'),
    ]);
    const empty = await anon.request('POST', '/signup');
    expect([empty.status, empty.body.budgetCents, empty.body.scopes]).toEqual([201, 100, []]);
  });

  it('answers 500 without hanging when the store fails', async () => {
    const down = new env.core.AgentKey({ pool: { query: () => Promise.reject(new Error('down')) } });
    const a = env.express();
    a.use(env.express.json());
    const seen: unknown[] = [];
    a.use(env.pkg.createAgentKeyRoutes(down, { requireEmailForSignup: false, onError: (e) => seen.push(e) }));
    const s = await serve(a);
    servers.push(s);
    const reply = await s.request('POST', '/signup', { body: {} });
    expect([reply.status, reply.body]).toEqual([500, { error: 'Failed to create key' }]);
    expect((seen[0] as Error).message).toBe('down');
  });

  it('refuses bad options at construction, naming the option', () => {
    const make = (options: Record<string, unknown>) => () => env.pkg.createAgentKeyRoutes(ak, options);
    expect(make({ signupScopes: 'usage.read' })).toThrow(/signupScopes/);
    expect(make({ signupMaxBudgetCents: -1 })).toThrow(/signupMaxBudgetCents/);
    expect(make({ signupMaxBudgetCents: '100' })).toThrow(/signupMaxBudgetCents/);
    expect(make({ signupMaxBudgetCents: null })).toThrow(/signupMaxBudgetCents/);
    expect(make({ signupMaxExpiresIn: 'forever' })).toThrow(/signupMaxExpiresIn/);
    expect(make({ signupMaxExpiresIn: null })).toThrow(/signupMaxExpiresIn/);
    expect(make({ signupDefaultExpiresIn: '8d' })).toThrow(/signupDefaultExpiresIn/);
    expect(make({ signupRateLimit: 0 })).toThrow(/signupRateLimit/);
    expect(make({ signupRateLimit: { max: 5 } })).toThrow(/signupRateLimit: windowMs/);
    expect(make({ requireEmailForSignup: 'no' })).toThrow(/requireEmailForSignup/);
    expect(make({ now: Date.now() })).toThrow(/now must be a function/);
  });
});
