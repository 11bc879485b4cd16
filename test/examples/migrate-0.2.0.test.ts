import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runToExit, useExampleApp } from '../support/app-process.js';
import { expectOneLineExit } from '../support/example-checks.js';
import { freePort } from '../support/ports.js';
import { root } from '../support/readme-run.js';

const NAME = 'migrate-0.2.0';

describe('examples/migrate-0.2.0: a 0.2.0 app with one import changed', () => {
  // The table as 0.2.0 left it, with a key 0.2.0 minted: SHA-256 hex of the whole key.
  const legacyKey = `ak_${randomBytes(24).toString('hex')}`;
  const app = useExampleApp(NAME, {
    prepare: async ({ pool }) => {
      await pool.query(`CREATE TABLE sdk_api_keys (
        id SERIAL PRIMARY KEY, account_id TEXT, key_hash TEXT NOT NULL UNIQUE, key_prefix TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT 'default', created_at TIMESTAMPTZ DEFAULT NOW(), last_used_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ, user_id TEXT, scopes TEXT[], budget_cents INTEGER,
        budget_used_cents INTEGER DEFAULT 0, budget_period TEXT, budget_reset_at TIMESTAMPTZ,
        expires_at TIMESTAMPTZ, delegated_by TEXT)`);
      await pool.query(
        `INSERT INTO sdk_api_keys (account_id, key_hash, key_prefix, scopes, budget_cents, budget_used_cents)
         VALUES ('legacy@example.com', $1, $2, '{usage.read,proxy.chat}', 30, 10)`,
        [createHash('sha256').update(legacyKey).digest('hex'), legacyKey.slice(0, 11)],
      );
    },
  });
  const signup = (body: unknown) => app.request('POST', '/signup', { body });

  it('differs from a 0.2.0 app by the one import line its README shows', () => {
    const readme = readFileSync(`${root}/examples/${NAME}/README.md`, 'utf8');
    const [, before, after] = /```diff\n-(.*)\n\+(.*)\n```/.exec(readme) ?? [];
    expect(before).toBe(after?.replace("'@agentkey/express'", "'@katrinalaszlo/agentkey'"));
    const main = readFileSync(`${root}/examples/${NAME}/src/main.ts`, 'utf8');
    expect(main.split('\n').filter((l) => l.includes('@agentkey/'))).toEqual([after]);
  });

  it('keeps the keys 0.2.0 minted working on the table 0.2.0 left, their spend included', async () => {
    expect(await app.request('GET', '/sdk-keys/me', { key: legacyKey })).toMatchObject({
      status: 200,
      body: { valid: true, accountId: 'legacy@example.com', budgetUsedCents: 10, budgetRemainingCents: 20 },
    });
    const proxied = await app.request('POST', '/api/proxy', {
      key: legacyKey,
      body: { prompt: 'still here' },
    });
    expect(proxied).toMatchObject({ status: 200, body: { reply: 'echo: still here', remainingCents: 10 } });
  });

  it('mints child keys no stronger than their parent, as 0.2.0 did: 201, else 403', async () => {
    const { key } = (await signup({ email: 'f@example.com', budget_cents: 20 })).body;
    // A signup key expires (in 24h): its children must, no later.
    const child = (body: object) =>
      app.request('POST', '/sdk-keys', { key, body: { expires_in: '1h', ...body } });
    expect(await child({ scopes: ['usage.read'], budget_cents: 10 })).toMatchObject({
      status: 201,
      body: { key: expect.stringMatching(/^ak_/), scopes: ['usage.read'], budgetCents: 10 },
    });
    expect(await child({ budget_cents: 5, expires_in: undefined })).toMatchObject({
      status: 403,
      body: { error: "Child key expiry must be set and not exceed your key's expiry" },
    });
    expect((await child({ scopes: ['usage.read'] })).status).toBe(403); // a capped parent names a budget
    expect((await child({ budget_cents: 30 })).status).toBe(403); // more than the parent's
    expect((await child({ scopes: ['admin'], budget_cents: 5 })).status).toBe(403);
  });

  it('answers 401 as 0.2.0 did: no key, an unknown key', async () => {
    expect(await app.request('GET', '/api/usage')).toMatchObject({
      status: 401,
      body: { error: 'Missing API key' },
    });
    const unknown = await app.request('GET', '/api/usage', { key: `ak_${'0'.repeat(48)}` });
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
    const me = await app.request('GET', '/sdk-keys/me', { key: created.body.key });
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
    const proxy = () => app.request('POST', '/api/proxy', { key, body: { prompt: 'hi' } });
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
    expect((await app.request('GET', '/api/usage', { key })).status).toBe(200);
    expect(await app.request('POST', '/api/proxy', { key, body: {} })).toMatchObject({
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
    expect(await app.request('GET', '/api/usage', { key: mine.key })).toMatchObject({
      status: 401,
      body: { error: 'revoked' },
    });
  });

  it('will not start without DATABASE_URL: one line naming it, exit code 1', async () => {
    expectOneLineExit(await runToExit(NAME, {}), /^migrate-0\.2\.0: set DATABASE_URL to your PostgreSQL/);
  });

  it('will not start on an unreachable DATABASE_URL: one line, no password, exit code 1', async () => {
    const url = `postgres://app:s3cret-pw@127.0.0.1:${await freePort()}/app`;
    const run = await runToExit(NAME, { DATABASE_URL: url });
    expectOneLineExit(
      run,
      /^migrate-0\.2\.0: cannot migrate \(connect ECONNREFUSED [^)]*\): check DATABASE_URL\n$/,
    );
    expect(run.stderr).not.toContain('s3cret-pw');
  });
});
