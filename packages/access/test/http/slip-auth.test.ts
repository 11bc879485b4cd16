import { randomBytes } from 'node:crypto';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentKeyAuth } from '@agentkey/express';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openChild } from '../../src/store/slip-token.js';
import { ADMIN, addTool, grantedAgent, harnessPerFile, type Reply } from '../support/setup.js';

// A permit slip is an opaque akp_ token that only the proxy takes. Its child key (a real ak_ key of
// the store) never leaves the server: an app route that takes any key, with no scope, must refuse
// the token, and no answer may carry the child key.
describe('permit slip tokens', () => {
  let clock = 0;
  const f = harnessPerFile({
    harness: { access: { now: () => new Date(Date.now() + clock) } },
    tool: { costCents: 1 },
  });
  const answers: string[] = [];
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await f.h.call(method, path, token, body);
    answers.push(JSON.stringify([r.status, r.body, [...r.headers]]));
    return r;
  };
  /** The app's own route: any valid key, no scope asked. */
  let me: { origin: string; server: Server };
  const callMe = async (token: string): Promise<Reply> => {
    const res = await fetch(`${me.origin}/me`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    answers.push(JSON.stringify([res.status, text, [...res.headers]]));
    return { status: res.status, body: JSON.parse(text), headers: res.headers };
  };
  /** The child key of slip `id`, opened from its row the way the proxy does. */
  const childKey = async (id: number) => {
    const { ctx } = f.h.access.internals;
    const { rows } = await f.h.db.pool.query(`SELECT * FROM ${ctx.names.slips} WHERE key_id = $1`, [id]);
    const r = rows[0];
    const opened = openChild(ctx, id, Buffer.from(r.token_hash), {
      kid: r.child_kid,
      iv: Buffer.from(r.child_iv),
      data: Buffer.from(r.child_data),
      tag: Buffer.from(r.child_tag),
    });
    if (!opened.ok) throw new Error(opened.message);
    return opened.key;
  };
  const mint = async (caller: Parameters<typeof f.h.access.mintPermit>[0], budgetCents?: number) => {
    const minted = await f.h.access.mintPermit(caller, 'github:repos.read', {
      ttl: '30s',
      ...(budgetCents === undefined ? {} : { budgetCents }),
    });
    if (!minted.ok) throw new Error(minted.message);
    return minted.permit;
  };

  beforeAll(async () => {
    await addTool(f.h.access, f.upstream, 'slack');
    const app = express();
    app.get('/me', agentKeyAuth({ agentKey: f.h.ak, onError: () => {} }), (req, res) => {
      res.json({ id: req.agentKey?.id });
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    me = { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  });
  afterAll(async () => {
    me?.server.closeAllConnections();
    await new Promise((resolve) => me?.server.close(resolve));
  });

  it('works on the proxy; every other route, ours or the app’s, refuses it 401; the child key is never answered', async () => {
    const a = await grantedAgent(f.h, { budgetCents: 100 });
    const permit = await mint(a.caller);
    expect(permit.token).toMatch(/^akp_[A-Za-z0-9_-]{43}$/);
    const child = await childKey(permit.id);
    // The child is a real key of the store: the app route takes it, which is why it is never handed out.
    expect((await f.h.ak.validate(child)).valid).toBe(true);
    expect((await callMe(child)).status).toBe(200);
    answers.length = 0;

    const proxied = await call('GET', '/proxy/github/repos/x', permit.token);
    expect(proxied.status).toBe(200);
    const mine = await callMe(permit.token);
    expect([mine.status, mine.body.error]).toEqual([401, 'invalid_token']);
    for (const [method, path] of [
      ['GET', '/tools'],
      ['GET', '/tools/github/credentials'],
      ['POST', '/permits'],
      ['GET', '/admin/requests'],
      ['GET', '/elsewhere'],
    ] as const) {
      const r = await call(
        method,
        path,
        permit.token,
        method === 'POST' ? { action: 'github:repos.read' } : undefined,
      );
      expect([path, r.status, r.body.error]).toEqual([path, 401, 'invalid_token']);
    }
    // The child key itself, were it ever leaked, is refused by the proxy and our routes.
    const direct = await f.h.call('GET', '/proxy/github/repos/x', child);
    expect([direct.status, direct.body.error]).toEqual([403, 'permit_only_proxy']);
    expect((await f.h.call('GET', '/tools', child)).body.error).toBe('permit_only_proxy');
    // Mount paths match case-insensitively in Express: the proxy is still the proxy.
    expect((await call('GET', '/PROXY/github/repos/x', permit.token)).status).toBe(200);

    const seen = f.upstream.seen.slice(-2);
    expect(seen.map((s) => s.headers.authorization)).toEqual([`Bearer ${f.secret}`, `Bearer ${f.secret}`]);
    const audit = JSON.stringify(await f.h.access.audit({ agentId: a.id }));
    const rows = JSON.stringify(
      (await f.h.db.pool.query(`SELECT * FROM ${f.h.access.internals.ctx.names.slips}`)).rows,
    );
    for (const text of [...answers, JSON.stringify(seen), audit, rows]) {
      expect(text).not.toContain(child);
      expect(text).not.toContain(permit.token.slice(4));
    }
  });

  it('a forged token, right prefix and shape, is 401; so is a malformed one and a one-character change', async () => {
    const a = await grantedAgent(f.h);
    const permit = await mint(a.caller);
    const last = permit.token.at(-1) === 'A' ? 'B' : 'A';
    for (const token of [
      `akp_${randomBytes(32).toString('base64url')}`,
      'akp_short',
      `${permit.token.slice(0, -1)}${last}`,
      `${permit.token}x`,
    ]) {
      const r = await call('GET', '/proxy/github/repos/x', token);
      expect([r.status, r.body.error]).toEqual([401, 'invalid_token']);
      expect(r.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
  });

  it('refused on the proxy once revoked (the slip, or its grant), once expired, and for another tool', async () => {
    const a = await grantedAgent(f.h);
    const revoked = await mint(a.caller);
    expect((await f.h.access.revokePermit(a.caller, revoked.id)).ok).toBe(true);
    const r1 = await call('GET', '/proxy/github/repos/x', revoked.token);
    expect([r1.status, r1.body.error_description]).toEqual([401, 'this permit slip was revoked']);
    // The sealed child key is wiped with the revocation.
    const { rows } = await f.h.db.pool.query(
      `SELECT child_data FROM ${f.h.access.internals.ctx.names.slips} WHERE key_id = $1`,
      [revoked.id],
    );
    expect(rows[0].child_data).toBeNull();

    const other = await call('GET', '/proxy/slack/repos/x', (await mint(a.caller)).token);
    expect([other.status, other.body.error]).toEqual([403, 'not_permitted']);

    const expiring = await mint(a.caller);
    expect((await call('GET', '/proxy/github/repos/x', expiring.token)).status).toBe(200);
    clock = 31_000;
    try {
      const r2 = await call('GET', '/proxy/github/repos/x', expiring.token);
      expect([r2.status, r2.body.error_description]).toEqual([401, 'this permit slip has expired']);
    } finally {
      clock = 0;
    }

    const live = await mint(a.caller);
    expect((await f.h.access.revokeGrant(a.grantId, { actor: ADMIN })).ok).toBe(true);
    const r3 = await call('GET', '/proxy/github/repos/x', live.token);
    expect([r3.status, r3.body.error]).toEqual([403, 'no_grant']);
  });

  it('two Authorization lines, a slip token and a key, are refused (neither is taken)', async () => {
    const a = await grantedAgent(f.h);
    const permit = await mint(a.caller);
    const before = f.upstream.seen.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${f.h.origin}/proxy/github/repos/x`, { method: 'GET' });
      req.setHeader('authorization', [`Bearer ${permit.token}`, `Bearer ${a.key}`]);
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    expect(f.upstream.seen.length).toBe(before);
  });

  it('refused once the credential that minted it is revoked', async () => {
    const a = await grantedAgent(f.h);
    const permit = await mint(a.caller);
    expect(await f.h.ak.revoke(a.id)).toBe(true);
    const r = await call('GET', '/proxy/github/repos/x', permit.token);
    expect([r.status, r.body.error]).toEqual([401, 'invalid_token']);
  });

  it('a sealed child key moved to another slip row fails to open: refused, never used', async () => {
    const a = await grantedAgent(f.h);
    const [one, two] = [await mint(a.caller), await mint(a.caller)];
    const { slips } = f.h.access.internals.ctx.names;
    await f.h.db.pool.query(
      `UPDATE ${slips} s SET child_kid = o.child_kid, child_iv = o.child_iv, child_data = o.child_data, child_tag = o.child_tag
         FROM ${slips} o WHERE s.key_id = $1 AND o.key_id = $2`,
      [two.id, one.id],
    );
    const r = await call('GET', '/proxy/github/repos/x', two.token);
    expect([r.status, r.body.error]).toEqual([500, 'secret_tampered']);
  });

  it('20 concurrent proxied calls on a slip whose budget allows 5: exactly 5 forwarded and charged', async () => {
    const a = await grantedAgent(f.h, { budgetCents: 100 });
    const permit = await mint(a.caller, 5);
    const before = f.upstream.seen.length;
    const all = await Promise.all(
      Array.from({ length: 20 }, (_, n) => call('GET', `/proxy/github/repos/c${n}`, permit.token)),
    );
    const statuses = all.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(all.filter((r) => r.status !== 200).map((r) => r.body.error)).toEqual(
      Array(15).fill('budget_exceeded'),
    );
    expect(f.upstream.seen.length - before).toBe(5);
    await vi.waitFor(async () =>
      expect((await f.h.ak.getKey(permit.id))!.budget).toMatchObject({ usedCents: 5, heldCents: 0 }),
    );
    expect((await f.h.ak.getKey(a.id))!.budget).toMatchObject({ usedCents: 5, heldCents: 0 });
  });
});
