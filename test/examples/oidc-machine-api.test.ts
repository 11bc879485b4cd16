import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit, useExampleApp } from '../support/app-process.js';
import {
  expectBudgetRunsOut,
  expectOneLineExit,
  expectScopeRefused,
  firstSightRow,
} from '../support/example-checks.js';
import { type OidcProviderStandIn, startOidcProvider } from '../support/oidc-provider.js';

const NAME = 'oidc-machine-api';
const AUDIENCE = 'https://reports.example.test';

describe('examples/oidc-machine-api: OIDC client-credentials tokens, first sight', () => {
  let idp: OidcProviderStandIn;
  beforeAll(async () => {
    idp = await startOidcProvider({
      clients: { reporter: 'secret-1', writer: 'secret-2' },
      audience: AUDIENCE,
      scope: 'reports:read reports:write',
    });
  });
  afterAll(() => idp?.close());
  const app = useExampleApp(NAME, { env: () => ({ OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: AUDIENCE }) });
  const reports = (token?: string) => app.request('GET', '/reports', { key: token });

  it('provisions a client on first sight and charges it 2¢ a call', async () => {
    expect(await reports(await idp.token('reporter', 'reports:read'))).toMatchObject({
      status: 200,
      body: { caller: `${idp.issuer}|reporter`, remainingCents: 8 },
    });
    expect(await firstSightRow(app.db.pool, `${idp.issuer}|reporter`)).toEqual([
      { scopes: ['reports:read'], budget_cents: 10, budget_period: 'month', budget_used_cents: 2 },
    ]);
  });

  it('challenges a call without a token, and refuses a token lacking reports:read with 403', async () => {
    const missing = await reports();
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm="api"/);
    expectScopeRefused(await reports(await idp.token('writer', 'reports:write')), 'reports:read');
  });

  it('answers 429 budget_exceeded with Retry-After once the month’s 10¢ are spent', async () => {
    const token = await idp.token('reporter', 'reports:read');
    await expectBudgetRunsOut(() => reports(token), [6, 4, 2, 0]);
  });

  it('will not start without OIDC_ISSUER, nor with a plain-http issuer off this machine', async () => {
    const env = { DATABASE_URL: app.db.url, OIDC_AUDIENCE: AUDIENCE };
    expectOneLineExit(await runToExit(NAME, env), /^oidc-machine-api: set OIDC_ISSUER to /);
    const remote = await runToExit(NAME, { ...env, OIDC_ISSUER: 'http://login.example.com/' });
    expectOneLineExit(
      remote,
      /^oidc-machine-api: OIDC_ISSUER or OIDC_AUDIENCE: issuer must be an https:\/\//,
    );
  });
});
