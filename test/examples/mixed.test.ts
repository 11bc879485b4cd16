import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit, useExampleApp } from '../support/app-process.js';
import { expectBudgetRunsOut, expectOneLineExit, expectScopeRefused } from '../support/example-checks.js';
import { type OidcProviderStandIn, startOidcProvider } from '../support/oidc-provider.js';

const NAME = 'mixed';
const AUDIENCE = 'https://reports.example.test';

describe('examples/mixed: native keys and OIDC tokens on one route, one store', () => {
  let idp: OidcProviderStandIn;
  beforeAll(async () => {
    idp = await startOidcProvider({
      clients: { reporter: 'secret-1' },
      audience: AUDIENCE,
      scope: 'reports:read reports:write',
    });
  });
  afterAll(() => idp?.close());
  const app = useExampleApp(NAME, { env: () => ({ OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: AUDIENCE }) });
  const reports = (token?: string) => app.request('GET', '/reports', { key: token });
  const signup = async (body: unknown) => {
    const created = await app.request('POST', '/signup', { body });
    expect(created.status).toBe(201);
    return created.body as { key: string; id: number };
  };

  it('lets a signed-up key and an OIDC client call the same route, each on its own row', async () => {
    const native = await signup({ budget_cents: 20 });
    expect(await reports(native.key)).toMatchObject({
      status: 200,
      body: { kind: 'key', caller: `key ${native.id}`, remainingCents: 18 },
    });
    expect(await reports(await idp.token('reporter', 'reports:read'))).toMatchObject({
      status: 200,
      body: { kind: 'subject', caller: `${idp.issuer}|reporter`, remainingCents: 8 },
    });
    const { rows } = await app.db.pool.query(
      'SELECT id, external_subject, budget_cents, budget_used_cents FROM sdk_api_keys ORDER BY id',
    );
    expect(rows).toEqual([
      { id: native.id, external_subject: null, budget_cents: 20, budget_used_cents: 2 },
      {
        id: expect.any(Number),
        external_subject: `${idp.issuer}|reporter`,
        budget_cents: 10,
        budget_used_cents: 2,
      },
    ]);
  });

  it('refuses either kind without reports:read: a scopeless key, a token asking only for write', async () => {
    expectScopeRefused(await reports((await signup({ scopes: [] })).key), 'reports:read');
    expectScopeRefused(await reports(await idp.token('reporter', 'reports:write')), 'reports:read');
  });

  it('answers 429 budget_exceeded to a native key and to a machine once each one’s budget is spent', async () => {
    const { key } = await signup({ budget_cents: 4 });
    await expectBudgetRunsOut(() => reports(key), [2, 0], false); // a signup budget never resets
    const token = await idp.token('reporter', 'reports:read');
    await expectBudgetRunsOut(() => reports(token), [6, 4, 2, 0]);
  });

  it('will not start without OIDC_AUDIENCE: one line naming it', async () => {
    const run = await runToExit(NAME, { DATABASE_URL: app.db.url, OIDC_ISSUER: idp.issuer });
    expectOneLineExit(run, /^mixed: set OIDC_AUDIENCE to /);
  });
});
