import { tableNames } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, type ConsoleApp, startConsole } from '../support/console-app.js';
import { Client, type Page, signedIn } from '../support/http.js';

let c: ConsoleApp;
beforeAll(async () => {
  c = await startConsole();
}, 60_000);
afterAll(() => c?.close());

const FORM = {
  name: 'nightly <b>report</b>',
  account: 'acme',
  scopes: 'chat, search chat',
  budgetCents: '2500',
  budgetPeriod: 'month',
  expiresIn: '30d',
};

/** The hidden fields of a confirmation page, as the browser would post them back. */
function confirmFields(page: Page): Record<string, string> {
  const form = /<form[^>]*class="confirm"[\s\S]*?<\/form>/.exec(page.body)![0];
  return Object.fromEntries(
    [...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, k, v]) => [
      k!,
      v!
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&'),
    ]),
  );
}

async function keyCount(): Promise<number> {
  const { rows } = await c.db.pool.query(`SELECT count(*)::int AS n FROM ${c.db.table}`);
  return rows[0].n;
}

describe('creating a key from the console', () => {
  it('the keys page has the form; confirming makes the key once and shows its secret once', async () => {
    const { client, csrf } = await signedIn(c);
    const keys = await client.get('/keys');
    expect(keys.body).toContain('action="/agentkey/keys/new"');
    const before = await keyCount();

    const confirm = await client.post('/keys/new', { _csrf: csrf, ...FORM });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain(
      'Create the key &quot;nightly &lt;b&gt;report&lt;/b&gt;&quot; in account acme: scopes chat, search; budget 2500¢ a month; expires in 30d.',
    );
    expect(await keyCount()).toBe(before);

    const fields = confirmFields(confirm);
    const made = await client.post('/keys/new', fields);
    expect(made.status).toBe(303);
    const id = Number(/\/agentkey\/keys\/(\d+)\/secret$/.exec(made.location!)![1]);
    // The secret is not in the redirect: not in its URL, nor in any header but the encrypted cookie.
    expect(made.location).not.toMatch(/ak_/);
    const cookie = made.headers.getSetCookie().find((l) => l.startsWith('akc_new_key='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toMatch(/ak_/);

    const shown = await client.get(`/keys/${id}/secret`);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('cache-control')).toBe('no-store');
    const secret = /<code class="secret" data-secret>(ak_[^<]+)<\/code>/.exec(shown.body)![1]!;
    const valid = await c.ak.validate(secret);
    expect(valid).toMatchObject({ valid: true, id });
    const row = (await c.ak.getKey(id))!;
    expect(row).toMatchObject({
      name: 'nightly <b>report</b>',
      accountId: 'acme',
      scopes: ['chat', 'search'],
      budget: { limitCents: 2500, period: 'month' },
    });
    expect(row.expiresAt!.getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);

    // Never again: not on reload, not on the key's page, not in the audit log or the ledger.
    const again = await client.get(`/keys/${id}/secret`);
    expect(again.status).toBe(410);
    expect(again.body).not.toContain(secret);
    expect((await client.get(`/keys/${id}`)).body).not.toContain(secret);
    const audit = (await auditRows(c)).filter((r) => String(r.action) === 'console.key.create');
    expect(audit.at(-1)).toMatchObject({
      agentId: id,
      actor: { kind: 'human', id: `console:alice#${c.admin.id}` },
      detail: expect.objectContaining({ account: 'acme', scopes: 'chat, search chat' }),
    });
    expect(JSON.stringify(await auditRows(c))).not.toContain(secret);
    const { rows } = await c.db.pool.query(`SELECT * FROM ${tableNames(c.db.table).derived('_ledger')}`);
    expect(JSON.stringify(rows)).not.toContain(secret);
    // The ledger's admin:create row names the same human as the audit log (it had no actor before).
    expect(rows.find((r) => r.kind === 'admin:create' && Number(r.principal_id) === id)?.actor).toBe(
      `console:alice#${c.admin.id}`,
    );

    // The same confirmation posted again (a double click, a resubmitted form) makes no second key.
    const twice = await client.post('/keys/new', fields);
    expect(twice.status).toBe(409);
    expect(await keyCount()).toBe(before + 1);
  });

  it.each([
    [{ account: '' }, 'Account: 1-512 printable ASCII characters.'],
    [{ name: '' }, 'Name: 1-200 characters'],
    [{ scopes: 'ok, "quoted"' }, 'Scopes: &quot;quoted&quot; is not a scope'],
    [{ budgetCents: '-5' }, 'Budget: whole cents from 0 to'],
    [{ budgetCents: '12.5' }, 'Budget: whole cents from 0 to'],
    [{ budgetPeriod: 'year' }, 'Period: day, week, month'],
    [{ budgetCents: '', budgetPeriod: 'day' }, 'Period: a period needs a budget.'],
    [{ expiresIn: '2 weeks' }, 'Expires in: Invalid duration: 2 weeks'],
    [{ expiresIn: '99999d' }, 'longer than 3650d'],
  ])('%j is refused with its reason, the form kept, and no key made', async (change, message) => {
    const { client, csrf } = await signedIn(c);
    const before = await keyCount();
    const res = await client.post('/keys/new', { _csrf: csrf, ...FORM, ...change });
    expect(res.status).toBe(400);
    expect(res.body).toContain(message);
    // What was typed is kept (escaped), to be corrected rather than typed again.
    const kept = { ...FORM, ...change };
    expect(res.body).toContain(`name="account" value="${kept.account}"`);
    expect(res.body).toContain(`name="expiresIn" value="${kept.expiresIn}"`);
    expect(await keyCount()).toBe(before);
  });

  it('a confirmation with a changed field, or from another session, makes nothing', async () => {
    const a = await signedIn(c);
    const b = await signedIn(c);
    const fields = confirmFields(await a.client.post('/keys/new', { _csrf: a.csrf, ...FORM }));
    const before = await keyCount();
    const swapped = await a.client.post('/keys/new', { ...fields, scopes: 'admin' });
    expect(swapped.status).toBe(200); // a fresh confirmation of what was actually posted
    expect(swapped.body).toContain('scopes admin;');
    const other = await b.client.post('/keys/new', { ...fields, _csrf: b.csrf });
    expect(other.status).toBe(200);
    expect(await keyCount()).toBe(before);
  });

  it('without the CSRF token, or signed out, nothing is made', async () => {
    const { client } = await signedIn(c);
    const before = await keyCount();
    expect((await client.post('/keys/new', { ...FORM })).status).toBe(403);
    expect((await new Client(c.url).post('/keys/new', { _csrf: 'x', ...FORM })).status).toBe(401);
    expect(await keyCount()).toBe(before);
  });

  it('the same confirmation posted five times at once makes exactly one key', async () => {
    const { client, csrf } = await signedIn(c);
    const fields = confirmFields(await client.post('/keys/new', { _csrf: csrf, ...FORM, name: 'raced' }));
    const before = await keyCount();
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.post('/keys/new', fields)));
    expect(answers.map((a) => a.status).sort()).toEqual([303, 409, 409, 409, 409]);
    expect(await keyCount()).toBe(before + 1);
    const { rows } = await c.db.pool.query(
      `SELECT count(*)::int AS n FROM ${c.db.table} WHERE name = 'raced'`,
    );
    expect(rows[0].n).toBe(1);
  });

  it("another session cannot read a new key's secret, even with the cookie", async () => {
    const a = await signedIn(c);
    const fields = confirmFields(await a.client.post('/keys/new', { _csrf: a.csrf, ...FORM }));
    const made = await a.client.post('/keys/new', fields);
    const sealed = /akc_new_key=([^;]+)/.exec(a.client.cookie)![1]!;
    const b = await signedIn(c);
    b.client.setCookie('akc_new_key', sealed);
    const stolen = await b.client.get(made.location!.replace(/^\/agentkey/, ''));
    expect(stolen.status).toBe(410);
    expect(stolen.body).not.toMatch(/ak_[A-Za-z0-9]{10}/);
  });
  it('the secret cookie replayed after it was cleared, or read by two tabs at once, shows the secret once', async () => {
    const { client, csrf } = await signedIn(c);
    const fields = confirmFields(await client.post('/keys/new', { _csrf: csrf, ...FORM }));
    const made = await client.post('/keys/new', fields);
    const path = made.location!.replace(/^\/agentkey/, '');
    const sealed = /akc_new_key=([^;]+)/.exec(client.cookie)![1]!;
    expect((await client.get(path)).status).toBe(200);
    client.setCookie('akc_new_key', sealed); // the "cleared" cookie, kept and sent again
    const replayed = await client.get(path);
    expect(replayed.status).toBe(410);
    expect(replayed.body).not.toMatch(/ak_[A-Za-z0-9]{10}/);

    const second = await client.post(
      '/keys/new',
      confirmFields(await client.post('/keys/new', { _csrf: csrf, ...FORM })),
    );
    const path2 = second.location!.replace(/^\/agentkey/, '');
    const tabs = await Promise.all([client.get(path2), client.get(path2), client.get(path2)]);
    expect(tabs.map((t) => t.status).sort()).toEqual([200, 410, 410]);
  });
});
