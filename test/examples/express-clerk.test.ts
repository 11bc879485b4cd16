import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClerkStub, tokenJson } from '../../packages/clerk/test/support/clerk-stub.js';
import { runToExit, useExampleApp } from '../support/app-process.js';
import {
  expectBudgetRunsOut,
  expectOneLineExit,
  expectScopeRefused,
  firstSightRow,
} from '../support/example-checks.js';

const NAME = 'express-clerk';
const API_MACHINE = 'mch_reports_api';
const SECRET = 'ak_test_reports_api_secret';

// Clerk's Backend API is a local server answering POST /m2m_tokens/verify as Clerk does; the app
// reaches it through CLERK_API_URL, as it would reach https://api.clerk.com.
describe('examples/express-clerk: Clerk M2M machines, first sight', () => {
  let clerk: ClerkStub;
  const issue = (token: string, subject: string, scopes: string[], extra = {}) =>
    clerk.tokens.set(token, {
      status: 200,
      token: tokenJson(Date.now(), { id: `${token}_id`, subject, scopes, ...extra }),
    });
  beforeAll(async () => {
    clerk = await new ClerkStub().start();
    issue('mt_reporter', 'mch_reporter', [API_MACHINE]);
    issue('mt_stranger', 'mch_stranger', ['mch_some_other_api']);
    issue('mt_revoked', 'mch_reporter', [API_MACHINE], { revoked: true, revocation_reason: 'rotated' });
  });
  afterAll(() => clerk?.close());
  const app = useExampleApp(NAME, {
    env: () => ({
      CLERK_MACHINE_SECRET_KEY: SECRET,
      CLERK_MACHINE_ID: API_MACHINE,
      CLERK_API_URL: clerk.url,
    }),
  });
  const reports = (token?: string) => app.request('GET', '/reports', { key: token });

  it('provisions a machine on first sight as clerk|mch_…, 2¢ a call, asking Clerk with its own key', async () => {
    expect(await reports('mt_reporter')).toMatchObject({
      status: 200,
      body: { caller: 'clerk|mch_reporter', remainingCents: 8 },
    });
    expect(await firstSightRow(app.db.pool, 'clerk|mch_reporter')).toEqual([
      { scopes: ['reports:read'], budget_cents: 10, budget_period: 'month', budget_used_cents: 2 },
    ]);
    expect(clerk.requests.at(-1)).toMatchObject({
      path: '/m2m_tokens/verify',
      authorization: `Bearer ${SECRET}`,
      body: { token: 'mt_reporter' },
    });
  });

  it('refuses a machine not allowed to call this one (403), and a revoked token (401)', async () => {
    expectScopeRefused(await reports('mt_stranger'), 'reports:read');
    expect(await reports('mt_revoked')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(await reports('mt_unknown')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('answers 429 budget_exceeded with Retry-After once the month’s 10¢ are spent', async () => {
    await expectBudgetRunsOut(() => reports('mt_reporter'), [6, 4, 2, 0]);
  });

  it('will not start without CLERK_MACHINE_SECRET_KEY, nor with a CLERK_MACHINE_ID that is no machine', async () => {
    const env = { DATABASE_URL: app.db.url, CLERK_MACHINE_ID: API_MACHINE };
    expectOneLineExit(await runToExit(NAME, env), /^express-clerk: set CLERK_MACHINE_SECRET_KEY to /);
    const wrong = await runToExit(NAME, {
      ...env,
      CLERK_MACHINE_SECRET_KEY: SECRET,
      CLERK_MACHINE_ID: 'reports',
    });
    expectOneLineExit(wrong, /^express-clerk: set CLERK_MACHINE_ID to this API's machine id \(mch_…\)$/m);
  });
});
