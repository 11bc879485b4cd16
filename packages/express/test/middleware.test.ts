import type { AgentKey } from '@agentkey/core';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBS, type Loaded, load, type Served, serve } from './support/http.js';

describe.each(LIBS)('agentKeyMiddleware on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let close: () => Promise<void>;
  let clock: ReturnType<Loaded['support']['manualClock']>;
  let server: Served;
  const errors: Array<{ error: unknown; context: string }> = [];
  const onError = (error: unknown, context: string) => errors.push({ error, context });

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    const store = await env.support.openStore('postgres', { now: clock.now });
    ak = store.ak;
    const down = new env.core.AgentKey({ pool: { query: () => Promise.reject(new Error('down')) } });
    const { agentKeyMiddleware } = env.pkg;
    const app = env.express();
    const echo = (req: Request, res: Response) => {
      res.json({ agentKey: req.agentKey });
    };
    app.get('/open', agentKeyMiddleware(ak, { onError }), echo);
    app.get('/chat', agentKeyMiddleware(ak, { scope: 'proxy.chat', onError }), echo);
    app.get('/down', agentKeyMiddleware(down, { onError }), echo);
    server = await serve(app);
    close = async () => {
      await server.close();
      await store.db.close();
    };
  });
  afterAll(() => close());

  it('answers 401 Missing API key without a Bearer header', async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer ' },
    ];
    for (const headers of variants) {
      const reply = await server.request('GET', '/open', { headers });
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual({ error: 'Missing API key' });
    }
  });

  it('passes a valid key on with req.agentKey set to the validate result', async () => {
    const created = await ak.create({ accountId: 'acct_mw', userId: 'u1', scopes: ['usage.read'] });
    const reply = await server.request('GET', '/open', { key: created.key });
    expect(reply.status).toBe(200);
    expect(reply.body.agentKey).toEqual(await ak.validate(created.key));
    expect(reply.body.agentKey).toMatchObject({
      valid: true,
      id: created.id,
      accountId: 'acct_mw',
      userId: 'u1',
    });
  });

  it('accepts the scheme in any case', async () => {
    const created = await ak.create({ accountId: 'acct_mw' });
    const reply = await server.request('GET', '/open', {
      headers: { authorization: `bearer ${created.key}` },
    });
    expect(reply.status).toBe(200);
  });

  it('answers 401 with the reason for unknown, revoked and expired keys', async () => {
    const unknown = await server.request('GET', '/open', { key: `ak_${'0'.repeat(48)}` });
    expect([unknown.status, unknown.body]).toEqual([401, { error: 'invalid' }]);

    const revoked = await ak.create({ accountId: 'acct_mw' });
    await ak.revoke(revoked.id);
    const r = await server.request('GET', '/open', { key: revoked.key });
    expect([r.status, r.body]).toEqual([401, { error: 'revoked' }]);

    const expiring = await ak.create({ accountId: 'acct_mw', expiresIn: '1h' });
    expect((await server.request('GET', '/open', { key: expiring.key })).status).toBe(200);
    clock.advance(60 * 60 * 1000);
    const e = await server.request('GET', '/open', { key: expiring.key });
    expect([e.status, e.body]).toEqual([401, { error: 'expired' }]);
  });

  it('answers 429 budget_exceeded for a spent key', async () => {
    const capped = await ak.create({ accountId: 'acct_mw', budgetCents: 10 });
    expect((await server.request('GET', '/open', { key: capped.key })).status).toBe(200);
    expect(await ak.trackUsage(capped.key, { costCents: 10 })).toMatchObject({ success: true });
    const reply = await server.request('GET', '/open', { key: capped.key });
    expect([reply.status, reply.body]).toEqual([429, { error: 'budget_exceeded' }]);
  });

  it('answers 403 insufficient_scope with what was required and what the key has', async () => {
    const reader = await ak.create({ accountId: 'acct_mw', scopes: ['usage.read'] });
    const reply = await server.request('GET', '/chat', { key: reader.key });
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({
      error: 'insufficient_scope',
      required: 'proxy.chat',
      available: ['usage.read'],
    });
  });

  it('lets a key with the scope, admin, or no scope limit through a scoped route', async () => {
    for (const scopes of [['proxy.chat'], ['admin'], null]) {
      const created = await ak.create({ accountId: 'acct_mw', scopes });
      const reply = await server.request('GET', '/chat', { key: created.key });
      expect(reply.status).toBe(200);
      expect(reply.body.agentKey.scopes).toEqual(scopes);
    }
  });

  it('answers 500 auth_unavailable when the store fails, and reports the failure', async () => {
    errors.length = 0;
    const reply = await server.request('GET', '/down', { key: `ak_${'1'.repeat(48)}` });
    expect([reply.status, reply.body]).toEqual([500, { error: 'auth_unavailable' }]);
    expect(errors).toHaveLength(1);
    expect((errors[0]!.error as Error).message).toBe('down');
    expect(errors[0]!.context).toBe('agentKeyMiddleware');
  });

  it('refuses bad configuration at construction', () => {
    const { agentKeyMiddleware } = env.pkg;
    expect(() => agentKeyMiddleware(ak, { scope: '' })).toThrow(/scope must be a non-empty string/);
    expect(() => agentKeyMiddleware({} as AgentKey)).toThrow(/needs an AgentKey/);
  });
});
