import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpStandIn, startIdp } from '../../packages/oidc/test/support/idp-server.js';
import { makeKey, mint, type TestKey } from '../../packages/oidc/test/support/keys.js';
import { runToExit, useExampleApp } from '../support/app-process.js';
import {
  expectBudgetRunsOut,
  expectOneLineExit,
  expectScopeRefused,
  firstSightRow,
} from '../support/example-checks.js';

const NAME = 'express-auth0';
const DOMAIN = 'tenant.eu.auth0.com';
const AUDIENCE = 'https://reports.example.test';

// oidc-provider cannot emit Auth0's `…@clients` subjects: the tenant is a local JWKS server, and
// its M2M tokens are signed here with a real key, in Auth0's default dialect.
describe('examples/express-auth0: Auth0 M2M applications, first sight', () => {
  let tenant: IdpStandIn;
  let key: TestKey;
  beforeAll(async () => {
    tenant = await startIdp();
    key = await makeKey('tenant-key');
    tenant.keys = [key.jwk];
  });
  afterAll(() => tenant?.close());
  const app = useExampleApp(NAME, {
    env: () => ({
      AUTH0_DOMAIN: DOMAIN,
      AUTH0_AUDIENCE: AUDIENCE,
      AUTH0_ISSUER: `${tenant.origin}/`,
    }),
  });
  const reports = (token?: string) => app.request('GET', '/reports', { key: token });
  const m2m = (client: string, scope: string) =>
    mint(
      key,
      { iss: `${tenant.origin}/`, aud: AUDIENCE, sub: `${client}@clients` },
      { header: { typ: 'JWT' }, claims: { azp: client, gty: 'client-credentials', scope } },
    );

  it('provisions an application on first sight as <domain>|<client id>, 2¢ a call', async () => {
    expect(await reports(await m2m('reporter-app', 'reports:read'))).toMatchObject({
      status: 200,
      body: { caller: `${DOMAIN}|reporter-app`, remainingCents: 8 },
    });
    expect(await firstSightRow(app.db.pool, `${DOMAIN}|reporter-app`)).toEqual([
      { scopes: ['reports:read'], budget_cents: 10, budget_period: 'month', budget_used_cents: 2 },
    ]);
    expect(tenant.count('/.well-known/jwks.json')).toBeGreaterThan(0);
  });

  it('refuses a token without reports:read (403) and one for another audience (401)', async () => {
    expectScopeRefused(await reports(await m2m('writer-app', 'reports:write')), 'reports:read');
    const elsewhere = await mint(
      key,
      { iss: `${tenant.origin}/`, aud: 'https://other.example.test', sub: 'reporter-app@clients' },
      { header: { typ: 'JWT' }, claims: { azp: 'reporter-app', scope: 'reports:read' } },
    );
    expect(await reports(elsewhere)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('answers 429 budget_exceeded with Retry-After once the month’s 10¢ are spent', async () => {
    const token = await m2m('reporter-app', 'reports:read');
    await expectBudgetRunsOut(() => reports(token), [6, 4, 2, 0]);
  });

  it('will not start without AUTH0_DOMAIN, nor with a plain-http issuer off this machine', async () => {
    const env = { DATABASE_URL: app.db.url, AUTH0_AUDIENCE: AUDIENCE };
    expectOneLineExit(await runToExit(NAME, env), /^express-auth0: set AUTH0_DOMAIN to /);
    const remote = await runToExit(NAME, {
      ...env,
      AUTH0_DOMAIN: DOMAIN,
      AUTH0_ISSUER: 'http://login.example.com/',
    });
    expectOneLineExit(
      remote,
      /^express-auth0: AUTH0_DOMAIN, AUTH0_AUDIENCE or AUTH0_ISSUER: issuer must be https:\/\//,
    );
  });
});
