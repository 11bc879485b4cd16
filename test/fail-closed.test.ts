import { clerkVerifier } from '@agentkey/clerk';
import { AgentKey, type Queryable, type Verifier } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClerkStub, closedPortUrl } from '../packages/clerk/test/support/clerk-stub.js';
import { type Served, serve } from '../packages/express/test/support/http.js';
import { deadOrigin, type IdpStandIn, startIdp } from '../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, type TestKey } from '../packages/oidc/test/support/keys.js';
import { openStore, type TestDb } from './support/db.js';
import { EXPRESS_LIBS, loadExpress } from './support/express.js';

const API = 'https://api.example.test';

// Guarantee 6: when the store or an IdP cannot answer, the caller gets 503 with Retry-After —
// never a 200, never a hang (Express 4 included), and nothing is written.
describe.each(EXPRESS_LIBS)('agentKeyAuth fails closed on %s', (lib) => {
  let ak: AgentKey;
  let db: TestDb;
  let idp: IdpStandIn;
  let broken: IdpStandIn;
  let key: TestKey;
  let clerk: ClerkStub;
  let server: Served;
  const reported: unknown[] = [];

  const tokenFor = (issuer: string, sub = 'client-1') => mint(key, { iss: issuer, aud: API, sub });
  const rowCount = async () =>
    (await db.pool.query(`SELECT count(*)::int AS n FROM ${db.table}`)).rows[0].n as number;
  const expectUnavailable = async (path: string, token: string) => {
    const reply = await server.request('GET', path, { key: token });
    expect([path, reply.status, reply.body.error]).toEqual([path, 503, 'unavailable']);
    expect(reply.headers.get('retry-after'), path).toMatch(/^[1-9][0-9]*$/);
    expect(JSON.stringify(reply.body)).not.toContain(token);
    return reply;
  };

  beforeAll(async () => {
    ({ ak, db } = await openStore('postgres'));
    [idp, broken] = await Promise.all([startIdp(), startIdp()]);
    key = await makeKey('k1');
    idp.keys = [key.jwk];
    broken.keys = [key.jwk];
    broken.mode = 'error500';
    clerk = await new ClerkStub().start();
    clerk.tokens.set('mt_clerk_500', { status: 500, code: 'internal' });
    clerk.tokens.set('mt_clerk_401', { status: 401, code: 'authentication_invalid' });

    const firstSeen = { scopes: null, budgetCents: 100 };
    const oidcFor = (issuer: string, jwksUri: string): Verifier =>
      oidcVerifier({
        issuer,
        audience: API,
        jwksUri,
        allowInsecureIssuer: true,
        firstSeen,
        httpTimeoutMs: 2000,
      });
    const working = oidcFor(idp.origin, idp.jwksUri);
    const storeDown = new AgentKey({
      pool: { query: () => Promise.reject(new Error('connection refused')) },
    });
    // A frozen database: connections open, nothing answers (SIGSTOP). The deadline answers.
    const storeFrozen = new AgentKey({ pool: { query: () => new Promise(() => {}) }, timeoutMs: 100 });
    // The store answers reads and charges but fails the first-sight INSERT (the only ON CONFLICT on subjects).
    const insertFails = new AgentKey({
      tableName: db.table,
      pool: {
        query: (text: string, params?: unknown[]) =>
          /ON CONFLICT \(external_subject\)/i.test(text)
            ? Promise.reject(new Error('disk full'))
            : (db.pool as Queryable).query(text, params),
      },
    });
    const dead = await deadOrigin();
    const onError = (error: unknown) => reported.push(error);
    const auth = (agentKey: AgentKey, verifiers: Verifier[]) =>
      agentKeyAuth({ agentKey, verifiers, cost: 1, onError });

    const app = (await loadExpress(lib))();
    const ok = (req: Request, res: Response) => {
      res.json({ passed: true, who: req.agentKey?.id });
    };
    app.get('/store-down', auth(storeDown, [working]), ok);
    app.get('/store-frozen', auth(storeFrozen, [working]), ok);
    app.get('/insert-fails', auth(insertFails, [working]), ok);
    const unmigrated = new AgentKey({ pool: db.pool, tableName: `${db.schema}.never_migrated` });
    app.get('/unmigrated', auth(unmigrated, [working]), ok);
    app.get('/jwks-dead', auth(ak, [oidcFor('https://dead.example.test', `${dead}/jwks`)]), ok);
    app.get('/jwks-500', auth(ak, [oidcFor(broken.origin, broken.jwksUri)]), ok);
    app.get(
      '/clerk-dead',
      auth(ak, [clerkVerifier({ machineSecretKey: 'ak_m', apiUrl: await closedPortUrl(), firstSeen })]),
      ok,
    );
    app.get(
      '/clerk',
      auth(ak, [clerkVerifier({ machineSecretKey: 'ak_m', apiUrl: clerk.url, firstSeen })]),
      ok,
    );
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await Promise.all([idp.close(), broken.close(), clerk.close()]);
    await db.close();
  });

  it('answers 503 when the store is down, for native keys and external tokens alike', async () => {
    reported.length = 0;
    await expectUnavailable('/store-down', `ak_${'1'.repeat(48)}`);
    await expectUnavailable('/store-down', await tokenFor(idp.origin));
    expect(reported).toHaveLength(2);
    expect((reported[0] as Error).message).toBe('connection refused');
  });

  it('answers 503 on a table nobody migrated, and tells the server log to run ak.migrate()', async () => {
    reported.length = 0;
    const reply = await expectUnavailable('/unmigrated', `ak_${'1'.repeat(48)}`);
    expect(reply.body.error_description).toBe(
      'The key store cannot answer: its table is not migrated (run ak.migrate()).',
    );
    expect((reported[0] as Error).message).toMatch(
      new RegExp(
        `^agentkey: table ${db.schema}\\.never_migrated does not exist \\(.*\\): run ak\\.migrate\\(\\)$`,
      ),
    );
  });

  it('answers 503 by the deadline when the store never answers, for native keys and external tokens alike', async () => {
    reported.length = 0;
    await expectUnavailable('/store-frozen', `ak_${'1'.repeat(48)}`);
    await expectUnavailable('/store-frozen', await tokenFor(idp.origin));
    expect(reported.map((e) => (e as Error).name)).toEqual(['AgentKeyTimeoutError', 'AgentKeyTimeoutError']);
  });

  it('answers 503 when the store fails while provisioning a first-seen subject', async () => {
    reported.length = 0;
    const before = await rowCount();
    await expectUnavailable('/insert-fails', await tokenFor(idp.origin, 'newcomer'));
    expect(await rowCount()).toBe(before);
    expect((reported[0] as Error).message).toBe('disk full');
  });

  it('answers 503 when the IdP cannot be reached or fails, and writes nothing', async () => {
    const before = await rowCount();
    await expectUnavailable('/jwks-dead', await tokenFor('https://dead.example.test'));
    await expectUnavailable('/jwks-500', await tokenFor(broken.origin));
    await expectUnavailable('/clerk-dead', 'mt_any_token');
    await expectUnavailable('/clerk', 'mt_clerk_500');
    const alarm = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      // Clerk refusing our own secret is our misconfiguration: 503, never the caller's 401.
      await expectUnavailable('/clerk', 'mt_clerk_401');
    } finally {
      alarm.mockRestore();
    }
    expect(await rowCount()).toBe(before);
  });
});
