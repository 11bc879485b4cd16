import type { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import express, { type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Served, serve } from '../packages/express/test/support/http.js';
import { manualClock, openStore, type TestDb } from './support/db.js';
import { type OidcProviderStandIn, startOidcProvider } from './support/oidc-provider.js';

const API = 'https://api.example.test';

// End to end: a real authorization server (oidc-provider) issues client_credentials tokens, the
// verifier discovers its keys over HTTP, and agentKeyAuth charges each client's own row.
describe('agentKeyAuth with oidc-provider tokens', () => {
  let provider: OidcProviderStandIn;
  let ak: AgentKey;
  let db: TestDb;
  let server: Served;
  // The store's clock stands still at the real time, so Retry-After can be checked exactly.
  const clock = manualClock(new Date());
  const subjectOf = (client: string) => `${provider.issuer}|${client}`;
  const rowOf = async (client: string) => {
    const { rows } = await db.pool.query(`SELECT * FROM ${db.table} WHERE external_subject = $1`, [
      subjectOf(client),
    ]);
    expect(rows.length).toBeLessThanOrEqual(1);
    return rows[0];
  };
  const echo = (req: Request, res: Response) => {
    res.json(req.agentKey);
  };

  beforeAll(async () => {
    provider = await startOidcProvider({
      clients: { 'agent-1': 'secret-1', 'agent-2': 'secret-2' },
      audience: API,
      scope: 'read write',
      ttlSec: 600,
    });
    ({ ak, db } = await openStore('postgres', { now: clock.now }));
    const verifiers = [
      oidcVerifier({
        issuer: provider.issuer,
        audience: API,
        allowInsecureIssuer: true,
        firstSeen: { scopes: ['read', 'write'], budgetCents: 3, budgetPeriod: 'day' },
      }),
    ];
    const app = express();
    app.get(
      '/read',
      agentKeyAuth({ agentKey: ak, verifiers, scope: 'read', cost: 1, onError: () => {} }),
      echo,
    );
    app.get(
      '/write',
      agentKeyAuth({ agentKey: ak, verifiers, scope: 'write', cost: 1, onError: () => {} }),
      echo,
    );
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await provider.close();
    await db.close();
  });

  it('accepts the token, creates the row on first sight and charges it on the next request', async () => {
    const token = await provider.token('agent-1', 'read');
    expect(await rowOf('agent-1')).toBeUndefined();

    const first = await server.request('GET', '/read', { key: token });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      kind: 'subject',
      subject: subjectOf('agent-1'),
      accountId: subjectOf('agent-1'),
      verifier: `oidc:${provider.issuer}`,
      claims: { iss: provider.issuer, aud: API, client_id: 'agent-1', scope: 'read' },
      budget: { limitCents: 3, usedCents: 1, remainingCents: 2, period: 'day' },
      chargedCents: 1,
    });
    const row = await rowOf('agent-1');
    expect(row).toMatchObject({ scopes: ['read', 'write'], budget_cents: 3, budget_used_cents: 1 });

    const second = await server.request('GET', '/read', { key: token });
    expect([second.status, second.body.id]).toEqual([200, row.id]);
    expect((await rowOf('agent-1')).budget_used_cents).toBe(2);
  });

  it("grants only what both the row and the token allow: a read token can't write", async () => {
    const readOnly = await provider.token('agent-1', 'read');
    const reply = await server.request('GET', '/write', { key: readOnly });
    expect(reply.status).toBe(403);
    expect(reply.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="insufficient_scope", scope="write"',
    );
    const used = (await rowOf('agent-1')).budget_used_cents;

    const readWrite = await provider.token('agent-1', 'read write');
    const ok = await server.request('GET', '/write', { key: readWrite });
    expect([ok.status, ok.body.scopes]).toEqual([200, ['read', 'write']]);
    expect((await rowOf('agent-1')).budget_used_cents).toBe(used + 1);
  });

  it('answers 429 with Retry-After to the period reset once the budget is spent', async () => {
    const token = await provider.token('agent-1', 'read');
    // The row has 3 ¢ and the two tests above spent them.
    expect((await rowOf('agent-1')).budget_used_cents).toBe(3);
    const reply = await server.request('GET', '/read', { key: token });
    expect([reply.status, reply.body.error]).toEqual([429, 'budget_exceeded']);
    const resetAt: Date = (await rowOf('agent-1')).budget_reset_at;
    expect(reply.headers.get('retry-after')).toBe(
      String(Math.ceil((resetAt.getTime() - clock.now().getTime()) / 1000)),
    );
    expect((await rowOf('agent-1')).budget_used_cents).toBe(3);
  });

  it('refuses a still-valid token with 401 once the subject is revoked', async () => {
    const token = await provider.token('agent-2', 'read');
    expect((await server.request('GET', '/read', { key: token })).status).toBe(200);
    expect(await ak.revokeSubject(subjectOf('agent-2'))).toBe(true);
    const reply = await server.request('GET', '/read', { key: token });
    expect([reply.status, reply.body.error]).toEqual([401, 'invalid_token']);
    expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="api", error="invalid_token"');
    expect((await rowOf('agent-2')).budget_used_cents).toBe(1);
  });
});
