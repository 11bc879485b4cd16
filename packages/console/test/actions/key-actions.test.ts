import type { KeyInfo } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, type ConsoleApp, startConsole } from '../support/console-app.js';
import { Client, signedIn } from '../support/http.js';

let c: ConsoleApp;
beforeAll(async () => {
  c = await startConsole();
}, 60_000);
afterAll(() => c?.close());

const confirmToken = (body: string) => /name="confirm" value="([^"]+)"/.exec(body)?.[1];

describe('changing a key takes a confirmation the server issued', () => {
  it('the first post only asks; the confirmed post tops up, in the ledger and the audit log', async () => {
    const { client, csrf } = await signedIn(c);
    const key = await c.ak.create({ accountId: 'a', name: 'worker', budgetCents: 100 });
    const ask = await client.post(`/keys/${key.id}/topup`, { _csrf: csrf, cents: '25' });
    expect(ask.status).toBe(200);
    expect(ask.body).toContain('from 100¢ to 125¢');
    expect((await c.ak.getKey(key.id))!.budget.limitCents).toBe(100);
    const token = confirmToken(ask.body)!;
    const done = await client.post(`/keys/${key.id}/topup`, { _csrf: csrf, cents: '25', confirm: token });
    expect(done.status).toBe(303);
    expect((await c.ak.getKey(key.id))!.budget.limitCents).toBe(125);
    const ledger = await c.db.pool.query(
      `SELECT kind, actor FROM ${c.db.table}_ledger WHERE principal_id = $1`,
      [key.id],
    );
    expect(ledger.rows).toContainEqual({ kind: 'admin:topup', actor: `console:alice#${c.admin.id}` });
    expect((await auditRows(c)).at(-1)).toMatchObject({
      action: 'console.key.topup',
      agentId: key.id,
      actor: { kind: 'human', id: `console:alice#${c.admin.id}` },
      detail: { cents: '25' },
    });
  });

  it('a confirmation cannot be reused for other parameters, another key or a made-up token', async () => {
    const { client, csrf } = await signedIn(c);
    const key = await c.ak.create({ accountId: 'a', name: 'w2', budgetCents: 100 });
    const other = await c.ak.create({ accountId: 'a', name: 'w3', budgetCents: 100 });
    const token = confirmToken(
      (await client.post(`/keys/${key.id}/topup`, { _csrf: csrf, cents: '1' })).body,
    )!;
    for (const [id, cents, confirm] of [
      [key.id, '1000', token],
      [other.id, '1', token],
      [key.id, '1', 'made-up'],
    ] as const) {
      const res = await client.post(`/keys/${id}/topup`, { _csrf: csrf, cents, confirm });
      expect(res.status).toBe(200);
      expect(res.body).toContain('Confirm');
    }
    expect((await c.ak.getKey(key.id))!.budget.limitCents).toBe(100);
    expect((await c.ak.getKey(other.id))!.budget.limitCents).toBe(100);
  });

  it("another session's confirmation does not count", async () => {
    const a = await signedIn(c);
    const b = await signedIn(c);
    const key = await c.ak.create({ accountId: 'a', name: 'w4' });
    const token = confirmToken((await a.client.post(`/keys/${key.id}/revoke`, { _csrf: a.csrf })).body)!;
    const res = await b.client.post(`/keys/${key.id}/revoke`, { _csrf: b.csrf, confirm: token });
    expect(res.status).toBe(200);
    expect((await c.ak.getKey(key.id))!.revokedAt).toBeNull();
  });

  it.each([
    [
      'budget',
      { cents: '300', period: 'day' },
      (k: KeyInfo) => [k.budget.limitCents, k.budget.period],
      [300, 'day'],
    ],
    ['scopes', { scopes: 'chat, tools:read' }, (k: KeyInfo) => k.scopes, ['chat', 'tools:read']],
    ['expiry', { expiresIn: '2d' }, (k: KeyInfo) => k.expiresAt !== null, true],
    ['revoke', {}, (k: KeyInfo) => k.revokedAt !== null, true],
  ])('%s, once confirmed, changes the row', async (action, form, read, want) => {
    const { client, csrf } = await signedIn(c);
    const key = await c.ak.create({ accountId: 'a', name: `w-${action}`, budgetCents: 100 });
    const ask = await client.post(`/keys/${key.id}/${action}`, { _csrf: csrf, ...form });
    expect(read((await c.ak.getKey(key.id))!)).not.toEqual(want);
    const done = await client.post(`/keys/${key.id}/${action}`, {
      _csrf: csrf,
      ...form,
      confirm: confirmToken(ask.body)!,
    });
    expect(done.status).toBe(303);
    expect(read((await c.ak.getKey(key.id))!)).toEqual(want);
    expect((await auditRows(c)).at(-1)).toMatchObject({ action: `console.key.${action}`, agentId: key.id });
  });

  it('bad input is one clear refusal, and nothing changes', async () => {
    const { client, csrf } = await signedIn(c);
    const key = await c.ak.create({ accountId: 'a', name: 'w5', budgetCents: 100 });
    for (const [action, form, message] of [
      ['topup', { cents: '-5' }, 'whole number above 0'],
      ['budget', { cents: '1', period: 'fortnight' }, 'day, week, month'],
      ['expiry', { expiresIn: 'soon' }, 'like 24h or 30d'],
      ['explode', {}, 'Unknown action'],
    ] as const) {
      const res = await client.post(`/keys/${key.id}/${action}`, { _csrf: csrf, ...form });
      expect(res.status).toBe(400);
      expect(res.body).toContain(message);
    }
    expect((await new Client(c.url).get(`/keys/${key.id}`)).status).toBe(303);
  });
});
