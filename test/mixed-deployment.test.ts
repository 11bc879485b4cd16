import { auth0Verifier } from '@agentkey/auth0';
import { clerkVerifier } from '@agentkey/clerk';
import type { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClerkStub, tokenJson } from '../packages/clerk/test/support/clerk-stub.js';
import { type Served, serve } from '../packages/express/test/support/http.js';
import { type IdpStandIn, startIdp } from '../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, type TestKey } from '../packages/oidc/test/support/keys.js';
import { openStore, type TestDb } from './support/db.js';
import { EXPRESS_LIBS, loadExpress } from './support/express.js';
import { type OidcProviderStandIn, startOidcProvider } from './support/oidc-provider.js';

const API = 'https://api.example.test';
const AUTH0_DOMAIN = 'tenant.eu.auth0.com';

// One app, one route, four kinds of caller: a native key, an OIDC token from a real authorization
// server, an Auth0-shaped token (signed here, keys from a local JWKS) and an opaque Clerk M2M token
// (checked by a local stand-in for Clerk's Backend API). Each must land on its own row.
describe.each(EXPRESS_LIBS)('a mixed deployment on %s', (lib) => {
  let ak: AgentKey;
  let db: TestDb;
  let provider: OidcProviderStandIn;
  let tenant: IdpStandIn;
  let tenantKey: TestKey;
  let clerk: ClerkStub;
  let server: Served;

  const usedBySubject = async () => {
    const { rows } = await db.pool.query(
      `SELECT coalesce(external_subject, 'native:' || id) AS who, budget_cents, budget_used_cents, scopes
         FROM ${db.table} ORDER BY id`,
    );
    return rows;
  };

  beforeAll(async () => {
    ({ ak, db } = await openStore('postgres'));
    provider = await startOidcProvider({ clients: { 'agent-1': 's1' }, audience: API, scope: 'read write' });
    tenant = await startIdp();
    tenantKey = await makeKey('tenant-key');
    tenant.keys = [tenantKey.jwk];
    clerk = await new ClerkStub().start();
    clerk.tokens.set('mt_worker_token', {
      status: 200,
      token: tokenJson(Date.now(), { id: 'mt_id_worker', subject: 'mch_worker' }),
    });

    const app = (await loadExpress(lib))();
    app.get(
      '/api',
      agentKeyAuth({
        agentKey: ak,
        verifiers: [
          oidcVerifier({
            issuer: provider.issuer,
            audience: API,
            allowInsecureIssuer: true,
            firstSeen: { budgetCents: 100, scopes: ['read'] },
          }),
          auth0Verifier({ domain: AUTH0_DOMAIN, audience: API, issuer: `${tenant.origin}/` }),
          clerkVerifier({
            machineSecretKey: 'ak_test_machine_secret',
            apiUrl: clerk.url,
            firstSeen: { budgetCents: 300, scopes: ['read'] },
          }),
        ],
        // Auth0 has no policy of its own: it gets the gate's.
        firstSeen: { budgetCents: 200, scopes: ['read'] },
        scope: 'read',
        cost: (req: Request) => Number(req.headers['x-cost'] ?? 1),
        onError: () => {},
      }),
      (req: Request, res: Response) => {
        res.json(req.agentKey);
      },
    );
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await Promise.all([provider.close(), tenant.close(), clerk.close()]);
    await db.close();
  });

  it('charges each caller against its own row', async () => {
    const native = await ak.create({ accountId: 'acme', scopes: ['read'], budgetCents: 50 });
    const oidc = await provider.token('agent-1', 'read');
    const auth0 = await mint(
      tenantKey,
      { iss: `${tenant.origin}/`, aud: API, sub: 'abc123@clients' },
      { header: { typ: 'JWT' }, claims: { azp: 'abc123', gty: 'client-credentials', scope: 'read' } },
    );
    const callers = [
      { token: native.key, cost: 1, verifier: 'native', subject: null },
      { token: oidc, cost: 2, verifier: `oidc:${provider.issuer}`, subject: `${provider.issuer}|agent-1` },
      { token: auth0, cost: 3, verifier: `auth0:${AUTH0_DOMAIN}`, subject: `${AUTH0_DOMAIN}|abc123` },
      { token: 'mt_worker_token', cost: 4, verifier: 'clerk', subject: 'clerk|mch_worker' },
    ];
    // Two rounds, interleaved: the second request of each caller finds its row and charges it again.
    for (let round = 0; round < 2; round++) {
      for (const c of callers) {
        const reply = await server.request('GET', '/api', {
          key: c.token,
          headers: { 'x-cost': String(c.cost) },
        });
        expect([c.verifier, reply.status]).toEqual([c.verifier, 200]);
        expect(reply.body).toMatchObject({
          verifier: c.verifier,
          subject: c.subject,
          kind: c.subject === null ? 'key' : 'subject',
          chargedCents: c.cost,
          budget: { usedCents: c.cost * (round + 1) },
        });
      }
    }
    expect(await usedBySubject()).toEqual([
      { who: `native:${native.id}`, budget_cents: 50, budget_used_cents: 2, scopes: ['read'] },
      { who: `${provider.issuer}|agent-1`, budget_cents: 100, budget_used_cents: 4, scopes: ['read'] },
      { who: `${AUTH0_DOMAIN}|abc123`, budget_cents: 200, budget_used_cents: 6, scopes: ['read'] },
      { who: 'clerk|mch_worker', budget_cents: 300, budget_used_cents: 8, scopes: ['read'] },
    ]);
    // The Clerk answer was cached: one call to the Backend API for two requests.
    expect(clerk.verifyCalls).toBe(1);
  });

  it("refuses each kind's bad credential with 401 and charges no one", async () => {
    const before = await usedBySubject();
    const forgedAuth0 = await mint(
      await makeKey('tenant-key'), // same kid, other key: the signature cannot verify
      { iss: `${tenant.origin}/`, aud: API, sub: 'abc123@clients' },
      { header: { typ: 'JWT' }, claims: { azp: 'abc123' } },
    );
    for (const token of [`ak_${'f'.repeat(48)}`, forgedAuth0, 'mt_unknown_token', 'not-a-known-credential']) {
      const reply = await server.request('GET', '/api', { key: token });
      expect([token.slice(0, 8), reply.status, reply.body.error]).toEqual([
        token.slice(0, 8),
        401,
        'invalid_token',
      ]);
    }
    expect(await usedBySubject()).toEqual(before);
  });
});
