import type { AgentKey, Verifier } from '@agentkey/core';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerFor } from '../src/auth-answer.js';
import { rateLimitHeaders } from '../src/rate-headers.js';
import { LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const state = {
  policy: 'key',
  kind: 'requests',
  limit: 50,
  remaining: 0,
  resetSec: 37,
  windowSec: 60,
} as const;

describe('RateLimit headers (draft-ietf-httpapi-ratelimit-headers-10/-11)', () => {
  it('a request window: the policy and its live counters as Structured Field lists', () => {
    expect(rateLimitHeaders(state)).toEqual({
      'RateLimit-Policy': '"key-requests";q=50;w=60',
      RateLimit: '"key-requests";r=0;t=37',
    });
  });

  it('a cents window names its unit; remaining cents round down, reset up', () => {
    expect(
      rateLimitHeaders({ ...state, policy: 'account', kind: 'cents', remaining: 4.9999, resetSec: 0.2 }),
    ).toEqual({
      'RateLimit-Policy': '"account-cents";q=50;w=60;x-unit="cents"',
      RateLimit: '"account-cents";r=4;t=1',
    });
  });

  it('rate_limited is a 429 with Retry-After and both fields, no challenge', () => {
    const answer = answerFor(
      { code: 'rate_limited', description: 'slow down', retryAfterSec: 37, rateLimit: state },
      'api',
    );
    expect(answer).toEqual({
      status: 429,
      headers: {
        'Retry-After': '37',
        'RateLimit-Policy': '"key-requests";q=50;w=60',
        RateLimit: '"key-requests";r=0;t=37',
      },
      body: { error: 'rate_limited', error_description: 'slow down' },
    });
  });

  it('a call no window can fit (no retryAfterSec): neither Retry-After nor a reset time', () => {
    const cents = { ...state, kind: 'cents', limit: 1, remaining: 1 } as const;
    const answer = answerFor({ code: 'rate_limited', description: 'too big', rateLimit: cents }, 'api');
    expect(answer.status).toBe(429);
    expect(answer.headers).toEqual({
      'RateLimit-Policy': '"key-cents";q=1;w=60;x-unit="cents"',
      RateLimit: '"key-cents";r=1',
    });
  });
});

describe.each(LIBS)('agentKeyAuth and rate limits on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let clock: ReturnType<Loaded['support']['manualClock']>;
  let server: Served;
  const used = async (id: number) => (await ak.getKey(id))!.budget.usedCents;
  const echo = (req: Request, res: Response) => {
    res.json({ agentKey: req.agentKey });
  };
  const ext: Verifier = {
    id: 'ext',
    accepts: (token) => token.startsWith('ext_'),
    verify: async (token) => ({
      ok: true,
      identity: { subject: `ext|${token.slice(4)}`, scopes: null, expiresAt: null, claims: {} },
    }),
  };

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    ({ ak, db } = await env.support.openStore('postgres', { now: clock.now }));
    const app = env.express();
    app.get('/chat', env.pkg.agentKeyAuth({ agentKey: ak, cost: 1, onError: () => {} }), echo);
    app.get(
      '/first-seen',
      env.pkg.agentKeyAuth({
        agentKey: ak,
        cost: 1,
        verifiers: [ext],
        firstSeen: { scopes: null, budgetCents: null, rateLimit: { requests: 1, windowSec: 30 } },
        onError: () => {},
      }),
      echo,
    );
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await db.close();
  });

  it('a passed call carries its window; the call past it is a 429 that charges nothing', async () => {
    const { key, id } = await ak.create({ accountId: `a_${lib}`, rateLimit: { requests: 2, windowSec: 60 } });
    const first = await server.request('GET', '/chat', { key });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"key-requests";q=2;w=60');
    expect(first.headers.get('ratelimit')).toBe('"key-requests";r=1;t=60');
    clock.advance(15_000);
    expect((await server.request('GET', '/chat', { key })).headers.get('ratelimit')).toBe(
      '"key-requests";r=0;t=45',
    );
    const refused = await server.request('GET', '/chat', { key });
    expect([refused.status, refused.body.error]).toEqual([429, 'rate_limited']);
    expect(refused.headers.get('retry-after')).toBe('45');
    expect(refused.headers.get('ratelimit')).toBe('"key-requests";r=0;t=45');
    expect(refused.headers.get('www-authenticate')).toBeNull();
    expect(await used(id)).toBe(2);
    clock.advance(45_000);
    expect((await server.request('GET', '/chat', { key })).status).toBe(200);
  });

  it("an account's cents window names the account", async () => {
    await ak.setAccountRateLimit(`c_${lib}`, { cents: 1, windowSec: 10 });
    const { key } = await ak.create({ accountId: `c_${lib}` });
    expect((await server.request('GET', '/chat', { key })).status).toBe(200);
    const refused = await server.request('GET', '/chat', { key });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-policy')).toBe('"account-cents";q=1;w=10;x-unit="cents"');
    expect(refused.headers.get('retry-after')).toBe('10');
  });

  it('a first-sight policy gives the new row its rate limit', async () => {
    const token = `ext_${lib}_newcomer`;
    expect((await server.request('GET', '/first-seen', { key: token })).status).toBe(200);
    const refused = await server.request('GET', '/first-seen', { key: token });
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '30']);
    expect((await ak.getSubject(`ext|${lib}_newcomer`))!.rateLimit).toEqual({
      requests: 1,
      cents: null,
      windowSec: 30,
    });
  });
});
