import { auth0Verifier } from '@agentkey/auth0';
import type { AgentKey } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from '../../oidc/test/support/idp-server.js';
import { makeKey, mint, type TestKey } from '../../oidc/test/support/keys.js';

// One Auth0 tenant reachable by its canonical and its custom domain: Auth0 signs both with the same
// keys and `iss` follows the domain the token was asked from. One client must keep one budget.
const AUD = 'https://api.example.test';

describe('auth0: a tenant with a custom domain', () => {
  let tenant: IdpStandIn;
  let key: TestKey;
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    tenant = await startIdp();
    key = await makeKey('rs', 'RS256');
    tenant.keys = [key.jwk];
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(async () => {
    await tenant.close();
    await db.close();
  });

  const canonicalIss = () => `${tenant.origin}/`;
  const customIss = () => canonicalIss().replace('127.0.0.1', 'localhost');
  const token = (iss: string) =>
    mint(key, { iss, aud: AUD, sub: 'cid@clients' }, { header: { typ: 'JWT' }, claims: { azp: 'cid' } });

  it('the same client gets one budget whichever domain issued its token', async () => {
    const firstSeen = { scopes: null, budgetCents: 100 };
    const subjectNamespace = 'acme.eu.auth0.com';
    const gate = ak.gate({
      verifiers: [
        auth0Verifier({ domain: 'acme.eu.auth0.com', audience: AUD, issuer: canonicalIss(), firstSeen }),
        auth0Verifier({
          domain: 'login.acme.com',
          audience: AUD,
          issuer: customIss(),
          firstSeen,
          subjectNamespace,
        }),
      ],
      sharedNamespaces: [subjectNamespace],
    });
    const a = await gate.authenticate(await token(canonicalIss()), { costCents: 100 });
    const b = await gate.authenticate(await token(customIss()), { costCents: 100 });
    const rows = await db.pool.query(`SELECT external_subject FROM ${db.table} ORDER BY id`);
    expect({ a: a.ok, b: b.ok, rows: rows.rows.map((r) => r.external_subject) }).toEqual({
      a: true,
      b: false,
      rows: ['acme.eu.auth0.com|cid'],
    });
  });

  it('a shared namespace must be declared at the gate; a namespace with | throws', () => {
    const firstSeen = { scopes: null, budgetCents: 100 };
    const verifiers = [
      auth0Verifier({ domain: 'acme.eu.auth0.com', audience: AUD, issuer: canonicalIss(), firstSeen }),
      auth0Verifier({ domain: 'login.acme.com', audience: AUD, subjectNamespace: 'acme.eu.auth0.com' }),
    ];
    expect(() => ak.gate({ verifiers })).toThrow(/both declare subjectNamespace/);
    expect(() =>
      auth0Verifier({ domain: 'acme.eu.auth0.com', audience: AUD, subjectNamespace: 'a|b' }),
    ).toThrow(/subjectNamespace/);
    expect(auth0Verifier({ domain: 'Acme.EU.auth0.com', audience: AUD }).subjectNamespace).toBe(
      'acme.eu.auth0.com',
    );
  });
});
