import type { AgentKey, AgentKeyInputError, Verifier, VerifyResult } from '@agentkey/core';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const REALM = 'api';
const challenge = (error?: string) => `Bearer realm="${REALM}"${error ? `, error="${error}"` : ''}`;

/** A verifier for `ext_<id>` tokens that says yes to every one, counting its calls. */
function extVerifier(verify?: (token: string) => Promise<VerifyResult>) {
  const calls: string[] = [];
  const verifier: Verifier = {
    id: 'ext',
    accepts: (token) => token.startsWith('ext_'),
    verify: async (token) => {
      calls.push(token);
      if (verify) return verify(token);
      return {
        ok: true,
        identity: { subject: `ext|${token.slice(4)}`, scopes: null, expiresAt: null, claims: { sub: token } },
      };
    },
  };
  return { verifier, calls };
}

describe.each(LIBS)('agentKeyAuth on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let clock: ReturnType<Loaded['support']['manualClock']>;
  let server: Served;
  const errors: Array<{ error: unknown; context: string }> = [];
  const onError = (error: unknown, context: string) => errors.push({ error, context });
  const ext = extVerifier();
  const costCalls: string[] = [];
  let n = 0;
  const account = () => `acct_${lib}_${++n}`;
  const used = async (id: number) => (await ak.getKey(id))!.budget.usedCents;
  const echo = (req: Request, res: Response) => {
    res.json({ agentKey: req.agentKey });
  };

  beforeAll(async () => {
    env = await load(lib);
    clock = env.support.manualClock();
    ({ ak, db } = await env.support.openStore('postgres', { now: clock.now }));
    const { agentKeyAuth } = env.pkg;
    const down = new env.core.AgentKey({ pool: { query: () => Promise.reject(new Error('store down')) } });
    const throwing = extVerifier(() => Promise.reject(new Error('idp exploded')));
    const leaky = extVerifier(async (token) => ({
      ok: false,
      error: { code: 'invalid_token', description: `bad token ${token}` },
    }));
    const base = { agentKey: ak, onError, realm: REALM };
    const app = env.express();
    app.get('/open', agentKeyAuth({ ...base, verifiers: [ext.verifier] }), echo);
    app.get('/paid', agentKeyAuth({ ...base, cost: 2.5 }), echo);
    app.get('/chat', agentKeyAuth({ ...base, scope: 'proxy.chat', cost: 1 }), echo);
    app.get(
      '/sync-cost',
      agentKeyAuth({
        ...base,
        cost: (req) => {
          costCalls.push(req.path);
          const header = req.headers['x-cost'];
          if (header === 'throw') throw new Error('cost bug');
          return header === 'string' ? ('1' as unknown as number) : Number(header);
        },
      }),
      echo,
    );
    app.get(
      '/async-cost',
      agentKeyAuth({
        ...base,
        cost: async (req) => {
          await new Promise((resolve) => setImmediate(resolve));
          if (req.headers['x-cost'] === 'throw') throw new Error('async cost bug');
          return Number(req.headers['x-cost']);
        },
      }),
      echo,
    );
    app.get(
      '/first-seen',
      agentKeyAuth({
        ...base,
        verifiers: [extVerifier().verifier],
        firstSeen: { budgetCents: 100, scopes: ['proxy.chat'] },
      }),
      echo,
    );
    app.get('/down', agentKeyAuth({ agentKey: down, onError, cost: 1 }), echo);
    app.get('/idp-throws', agentKeyAuth({ ...base, verifiers: [throwing.verifier] }), echo);
    app.get('/leaky', agentKeyAuth({ ...base, verifiers: [leaky.verifier] }), echo);
    app.get('/quoted', agentKeyAuth({ agentKey: ak, onError, realm: 'my "api" \\ v2' }), echo);
    app.get(
      '/buggy-gate',
      agentKeyAuth({
        agentKey: { gate: () => ({ authenticate: () => Promise.reject(new Error('gate bug')) }) } as never,
        onError,
      }),
      echo,
    );
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await db.close();
  });

  describe('the Authorization header', () => {
    it('answers exact statuses and challenges for each malformed or missing header', async () => {
      const { key, id } = await ak.create({ accountId: account() });
      const cases: Array<[Record<string, string>, number, string | null, string]> = [
        [{}, 401, challenge(), 'missing_credential'],
        [{ authorization: 'Basic dXNlcjpwYXNz' }, 400, challenge('invalid_request'), 'invalid_request'],
        [{ authorization: `Bearer  ${key}` }, 400, challenge('invalid_request'), 'invalid_request'],
        [{ authorization: 'Bearer ' }, 400, challenge('invalid_request'), 'invalid_request'],
        [{ authorization: `Bearer ${key} ${key}` }, 400, challenge('invalid_request'), 'invalid_request'],
        [{ authorization: `Bearer ${key},junk` }, 400, challenge('invalid_request'), 'invalid_request'],
        [{ authorization: `bearer ${key}` }, 200, null, ''],
        [{ authorization: `BEARER ${key}` }, 200, null, ''],
      ];
      for (const [headers, status, wwwAuthenticate, error] of cases) {
        const reply = await server.request('GET', '/paid', { headers });
        expect([headers.authorization, reply.status]).toEqual([headers.authorization, status]);
        expect(reply.headers.get('www-authenticate')).toBe(wwwAuthenticate);
        if (error) {
          expect(reply.body.error).toBe(error);
          expect(typeof reply.body.error_description).toBe('string');
          expect(JSON.stringify(reply.body)).not.toContain(key);
        }
      }
      // Only the two well-formed requests were charged.
      expect(await used(id)).toBe(5);
    });

    it('never reads a token from the query string', async () => {
      const { key } = await ak.create({ accountId: account() });
      const reply = await server.request('GET', `/paid?access_token=${key}`);
      expect(reply.status).toBe(401);
      expect(reply.body.error).toBe('missing_credential');
    });

    it('quotes the realm safely', async () => {
      const reply = await server.request('GET', '/quoted');
      expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="my \\"api\\" \\\\ v2"');
    });
  });

  describe('native keys', () => {
    it('sets req.agentKey to the principal, with the budget after the charge', async () => {
      const acct = account();
      const { key, id } = await ak.create({ accountId: acct, userId: 'u1', budgetCents: 10, name: 'bot' });
      const reply = await server.request('GET', '/paid', { key });
      expect(reply.status).toBe(200);
      expect(reply.body.agentKey).toEqual({
        kind: 'key',
        id,
        subject: null,
        accountId: acct,
        userId: 'u1',
        name: 'bot',
        scopes: null,
        expiresAt: null,
        delegatedBy: null,
        verifier: 'native',
        claims: {},
        budget: {
          limitCents: 10,
          usedCents: 2.5,
          heldCents: 0,
          remainingCents: 7.5,
          period: null,
          resetAt: null,
        },
        chargedCents: 2.5,
      });
      expect(await used(id)).toBe(2.5);
    });

    it('answers 401 invalid_token for unknown and revoked keys', async () => {
      const unknown = await server.request('GET', '/paid', { key: `ak_${'0'.repeat(48)}` });
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toBe(challenge('invalid_token'));
      expect(unknown.body.error).toBe('invalid_token');

      const { key, id } = await ak.create({ accountId: account() });
      await ak.revoke(id);
      const revoked = await server.request('GET', '/paid', { key });
      expect([revoked.status, revoked.body.error]).toEqual([401, 'invalid_token']);
      expect(await used(id)).toBe(0);
    });

    it('answers 403 insufficient_scope naming the scope, and charges nothing', async () => {
      const { key, id } = await ak.create({ accountId: account(), scopes: ['usage.read'] });
      const reply = await server.request('GET', '/chat', { key });
      expect(reply.status).toBe(403);
      expect(reply.headers.get('www-authenticate')).toBe(
        'Bearer realm="api", error="insufficient_scope", scope="proxy.chat"',
      );
      expect(reply.body.error).toBe('insufficient_scope');
      expect(await used(id)).toBe(0);
    });

    it('answers 429 with Retry-After = seconds to the reset for a periodic budget', async () => {
      const { key, id } = await ak.create({ accountId: account(), budgetCents: 2, budgetPeriod: 'day' });
      expect((await server.request('GET', '/chat', { key })).status).toBe(200);
      expect((await server.request('GET', '/chat', { key })).status).toBe(200);
      const reply = await server.request('GET', '/chat', { key });
      expect([reply.status, reply.body.error]).toEqual([429, 'budget_exceeded']);
      const resetAt = (await ak.getKey(id))!.budget.resetAt!;
      const expected = Math.ceil((resetAt.getTime() - clock.now().getTime()) / 1000);
      expect(expected).toBeGreaterThan(0);
      expect(reply.headers.get('retry-after')).toBe(String(expected));
      expect(reply.headers.get('www-authenticate')).toBeNull();
    });

    it('answers 429 without Retry-After for a budget that never resets', async () => {
      const { key } = await ak.create({ accountId: account(), budgetCents: 1 });
      expect((await server.request('GET', '/chat', { key })).status).toBe(200);
      const reply = await server.request('GET', '/chat', { key });
      expect([reply.status, reply.body.error]).toEqual([429, 'budget_exceeded']);
      expect(reply.headers.get('retry-after')).toBeNull();
    });
  });

  describe('cost', () => {
    it('charges what a sync or async cost function returns', async () => {
      const { key, id } = await ak.create({ accountId: account() });
      const sync = await server.request('GET', '/sync-cost', { key, headers: { 'x-cost': '0.25' } });
      expect([sync.status, sync.body.agentKey.chargedCents]).toEqual([200, 0.25]);
      const later = await server.request('GET', '/async-cost', { key, headers: { 'x-cost': '3' } });
      expect([later.status, later.body.agentKey.chargedCents]).toEqual([200, 3]);
      expect(await used(id)).toBe(3.25);
    });

    it('answers 500 server_error and charges nothing when the cost function throws or returns nonsense', async () => {
      const { key, id } = await ak.create({ accountId: account() });
      errors.length = 0;
      for (const [path, cost] of [
        ['/sync-cost', 'throw'],
        ['/async-cost', 'throw'],
        ['/sync-cost', 'NaN'],
        ['/sync-cost', '-1'],
        ['/sync-cost', 'Infinity'],
        ['/sync-cost', '0.00001'],
        ['/sync-cost', 'string'],
        ['/async-cost', '-5'],
      ] as const) {
        const reply = await server.request('GET', path, { key, headers: { 'x-cost': cost } });
        expect([path, cost, reply.status, reply.body.error]).toEqual([path, cost, 500, 'server_error']);
      }
      expect(await used(id)).toBe(0);
      expect(errors).toHaveLength(8);
      expect(errors.every((e) => e.context === 'agentKeyAuth cost')).toBe(true);
      expect((errors[0]!.error as Error).message).toBe('cost bug');
    });

    it('does not run the cost function for a request without a credential', async () => {
      costCalls.length = 0;
      expect((await server.request('GET', '/sync-cost')).status).toBe(401);
      expect(costCalls).toEqual([]);
    });
  });

  describe('external identities', () => {
    it('refuses a verified subject with no row and no policy: 403 unprovisioned, no row written', async () => {
      const before = await countRows(db);
      const reply = await server.request('GET', '/open', { key: 'ext_nobody' });
      expect(reply.status).toBe(403);
      expect(reply.body.error).toBe('unprovisioned');
      expect(reply.headers.get('www-authenticate')).toBeNull();
      expect(await countRows(db)).toBe(before);
      expect(ext.calls).toContain('ext_nobody');
    });

    it('provisions on first sight with the gate-level policy', async () => {
      const reply = await server.request('GET', '/first-seen', { key: 'ext_newcomer' });
      expect(reply.status).toBe(200);
      expect(reply.body.agentKey).toMatchObject({
        kind: 'subject',
        subject: 'ext|newcomer',
        accountId: 'ext|newcomer',
        verifier: 'ext',
        claims: { sub: 'ext_newcomer' },
        scopes: ['proxy.chat'],
        budget: { limitCents: 100, usedCents: 0 },
      });
    });

    it('answers 401 for a token no verifier accepts, without asking any', async () => {
      const calls = ext.calls.length;
      const reply = await server.request('GET', '/open', { key: 'zzz_unrouted' });
      expect([reply.status, reply.body.error]).toEqual([401, 'invalid_token']);
      expect(reply.headers.get('www-authenticate')).toBe(challenge('invalid_token'));
      expect(ext.calls.length).toBe(calls);
    });

    it('never echoes the token, even when a verifier puts it in its description', async () => {
      const token = 'ext_very_secret_token_value';
      const reply = await server.request('GET', '/leaky', { key: token });
      expect(reply.status).toBe(401);
      expect(JSON.stringify(reply.body)).not.toContain(token);
    });
  });

  describe('fail closed', () => {
    it('answers 503 with Retry-After when the store is down, and reports the cause', async () => {
      errors.length = 0;
      const reply = await server.request('GET', '/down', { key: `ak_${'1'.repeat(48)}` });
      expect(reply.status).toBe(503);
      expect(reply.body).toEqual({ error: 'unavailable', error_description: 'The key store cannot answer.' });
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(errors.map((e) => [(e.error as Error).message, e.context])).toEqual([
        ['store down', 'agentKeyAuth'],
      ]);
    });

    it('answers 503 when a verifier throws, with the cause logged and not sent', async () => {
      errors.length = 0;
      const reply = await server.request('GET', '/idp-throws', { key: 'ext_someone' });
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toBe('5');
      expect(reply.body.error).toBe('unavailable');
      expect(JSON.stringify(reply.body)).not.toContain('exploded');
      expect((errors[0]!.error as Error).message).toBe('idp exploded');
    });

    it('answers 500 when the gate itself breaks (an async failure still reaches a response)', async () => {
      errors.length = 0;
      const reply = await server.request('GET', '/buggy-gate', { key: `ak_${'2'.repeat(48)}` });
      expect([reply.status, reply.body.error]).toEqual([500, 'server_error']);
      expect((errors[0]!.error as Error).message).toBe('gate bug');
    });
  });

  it('refuses bad configuration at construction, naming the option', () => {
    const { agentKeyAuth } = env.pkg;
    const v = extVerifier().verifier;
    expect(() => agentKeyAuth({ agentKey: ak, verifiers: [v, { ...v }] })).toThrow(/duplicate id "ext"/);
    // One namespace on two verifiers: only when sharedNamespaces (passed to the gate) says so.
    const twins = [
      { ...v, subjectNamespace: 'ns' },
      { ...v, id: 'ext2', subjectNamespace: 'ns' },
    ];
    expect(() => agentKeyAuth({ agentKey: ak, verifiers: twins })).toThrow(/both declare subjectNamespace/);
    expect(() => agentKeyAuth({ agentKey: ak, verifiers: twins, sharedNamespaces: ['ns'] })).not.toThrow();
    expect(() => agentKeyAuth({ agentKey: {} as AgentKey })).toThrow(/agentKey must be an AgentKey/);
    expect(() => agentKeyAuth({ agentKey: ak, cost: -1 })).toThrow(/cost: cost must not be negative/);
    expect(() => agentKeyAuth({ agentKey: ak, cost: Number.NaN })).toThrow(/cost: /);
    const field = (build: () => unknown) => {
      try {
        build();
      } catch (error) {
        return [(error as AgentKeyInputError).field, (error as Error).message];
      }
    };
    expect(field(() => agentKeyAuth({ agentKey: ak, hold: -1 }))).toEqual([
      'hold',
      'hold: cost must not be negative',
    ]);
    expect(() => agentKeyAuth({ agentKey: ak, scope: 'two words' })).toThrow(/scope must be/);
    expect(() => agentKeyAuth({ agentKey: ak, scope: '' })).toThrow(/scope must be/);
    expect(() => agentKeyAuth({ agentKey: ak, realm: 'a\r\nX-Injected: 1' })).toThrow(/realm must be/);
    expect(() =>
      agentKeyAuth({
        agentKey: ak,
        firstSeen: { scopes: null, budgetCents: 1, budgetPeriod: 'year' as 'day' },
      }),
    ).toThrow(/firstSeen/);
  });
});
