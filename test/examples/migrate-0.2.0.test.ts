import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runToExit, useExampleApp } from '../support/app-process.js';
import { expectOneLineExit } from '../support/example-checks.js';
import { root } from '../support/readme-run.js';

const NAME = 'migrate-0.2.0';

describe('examples/migrate-0.2.0: a 0.2.0 app with one import changed', () => {
  const app = useExampleApp(NAME);
  const signup = (body: unknown) => app.request('POST', '/signup', { body });

  it('differs from a 0.2.0 app by the one import line its README shows', () => {
    const readme = readFileSync(`${root}/examples/${NAME}/README.md`, 'utf8');
    const [, before, after] = /```diff\n-(.*)\n\+(.*)\n```/.exec(readme) ?? [];
    expect(before).toBe(after?.replace("'@agentkey/express'", "'@katrinalaszlo/agentkey'"));
    const main = readFileSync(`${root}/examples/${NAME}/src/main.ts`, 'utf8');
    expect(main.split('\n').filter((l) => l.includes('@agentkey/'))).toEqual([after]);
  });

  it('answers 401 as 0.2.0 did: no key, an unknown key', async () => {
    expect(await app.request('GET', `/api/usage`)).toMatchObject({
      status: 401,
      body: { error: 'Missing API key' },
    });
    const unknown = await app.request('GET', `/api/usage`, { key: `ak_${'0'.repeat(48)}` });
    expect(unknown).toMatchObject({ status: 401, body: { error: 'invalid' } });
  });

  it('signs up with create()’s result, and refuses a missing email or a scope it does not offer', async () => {
    expect((await signup({})).status).toBe(400);
    expect((await signup({ email: 'x@example.com', scopes: ['admin'] })).status).toBe(400);
    const created = await signup({ email: 'a@example.com', budget_cents: 20 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      key: expect.stringMatching(/^ak_[0-9a-f]{48}$/),
      id: expect.any(Number),
      scopes: ['usage.read', 'proxy.chat'],
      budgetCents: 20,
      budgetPeriod: null,
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const me = await app.request('GET', `/sdk-keys/me`, { key: created.body.key });
    expect(me).toMatchObject({
      status: 200,
      body: {
        valid: true,
        id: created.body.id,
        accountId: 'a@example.com',
        budgetCents: 20,
        budgetUsedCents: 0,
        budgetRemainingCents: 20,
      },
    });
  });

  it('charges the paid route until the budget is spent, then 429 budget_exceeded', async () => {
    const { key } = (await signup({ email: 'b@example.com', budget_cents: 20 })).body;
    const proxy = () => app.request('POST', `/api/proxy`, { key, body: { prompt: 'hi' } });
    expect(await proxy()).toMatchObject({ status: 200, body: { reply: 'echo: hi', remainingCents: 10 } });
    expect(await proxy()).toMatchObject({ status: 200, body: { remainingCents: 0 } });
    expect(await proxy()).toMatchObject({ status: 429, body: { error: 'budget_exceeded' } });
    const { rows } = await app.db.pool.query(
      `SELECT budget_used_cents FROM sdk_api_keys WHERE account_id = 'b@example.com'`,
    );
    expect(rows).toEqual([{ budget_used_cents: 20 }]);
  });

  it('refuses a key without the route’s scope: 403 with required and available', async () => {
    const { key } = (await signup({ email: 'c@example.com', scopes: ['usage.read'] })).body;
    expect((await app.request('GET', `/api/usage`, { key })).status).toBe(200);
    expect(await app.request('POST', `/api/proxy`, { key, body: {} })).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope', required: 'proxy.chat', available: ['usage.read'] },
    });
  });

  it('revokes its own keys only: 400 for a bad id, 404 for another account’s, then 401 revoked', async () => {
    const mine = (await signup({ email: 'd@example.com' })).body;
    const theirs = (await signup({ email: 'e@example.com' })).body;
    const del = (id: string) => app.request('DELETE', `/sdk-keys/${id}`, { key: mine.key });
    expect((await del('12abc')).status).toBe(400);
    expect((await del(String(theirs.id))).status).toBe(404);
    expect(await del(String(mine.id))).toMatchObject({ status: 200, body: { revoked: true } });
    expect(await app.request('GET', `/api/usage`, { key: mine.key })).toMatchObject({
      status: 401,
      body: { error: 'revoked' },
    });
  });

  it('will not start without DATABASE_URL: one line naming it, exit code 1', async () => {
    expectOneLineExit(await runToExit(NAME, {}), /^migrate-0\.2\.0: set DATABASE_URL to your PostgreSQL/);
  });
});
