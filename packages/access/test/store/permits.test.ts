import type { Caller } from '@agentkey/access';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, harnessPerFile } from '../support/setup.js';

describe('permit slips', () => {
  const f = harnessPerFile();
  let parent: { key: string; id: number };
  let caller: Caller;

  beforeAll(async () => {
    parent = await f.h.ak.create({ accountId: 'acme', budgetCents: 20 });
    caller = { kind: 'key', id: parent.id, subject: null, accountId: 'acme', scopes: null, expiresAt: null };
  });

  it('need a live grant of the tool first', async () => {
    const refused = await f.h.access.mintPermit(caller, 'github:repos.read', { ttl: '10s' });
    expect(refused).toMatchObject({ ok: false, code: 'no_grant' });
    const asked = await f.h.access.request(caller, 'github', { reason: 'slips' });
    expect(asked.ok && (await f.h.access.approve(asked.request.id, { actor: ADMIN })).ok).toBe(true);
  });

  it('withAgentKey mints a child on the parent pool for seconds, refused off the proxy, revoked when fn settles', async () => {
    let seen: { token: string; id: number } | undefined;
    const result = await f.h.access.withAgentKey(
      caller,
      'github:repos.read',
      { ttl: '10s', budgetCents: 5 },
      async (permit) => {
        seen = permit;
        expect(permit.action).toBe('github:repos.read');
        expect(new Date(permit.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(10_000);
        const info = await f.h.ak.getKey(permit.id);
        expect(info).toMatchObject({ poolParentId: parent.id, scopes: [], budget: { limitCents: 5 } });
        expect(permit.token).toMatch(/^akp_[A-Za-z0-9_-]{43}$/);
        // A slip is for the proxy only: the vend and the other agent routes refuse its token.
        const vend = await f.h.call('GET', '/tools/github/credentials', permit.token);
        expect([vend.status, vend.body.error]).toEqual([401, 'invalid_token']);
        expect(vend.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        expect((await f.h.call('GET', '/tools', permit.token)).body.error).toBe('invalid_token');
        expect(
          (await f.h.call('POST', '/permits', permit.token, { action: 'github:repos.read' })).body.error,
        ).toBe('invalid_token');
        return 'done';
      },
    );
    expect(result).toBe('done');
    expect((await f.h.ak.getKey(seen!.id))?.revokedAt).toBeInstanceOf(Date);
    const audit = (await f.h.access.audit({ agentId: parent.id })).map((r) => r.action);
    expect(audit.slice(-2)).toEqual(['permit.minted', 'permit.revoked']);
  });

  it('is revoked even when fn throws', async () => {
    let id = 0;
    await expect(
      f.h.access.withAgentKey(caller, 'github:repos.read', { ttl: '5s' }, (permit) => {
        id = permit.id;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await f.h.ak.getKey(id))?.revokedAt).toBeInstanceOf(Date);
  });

  it('an external subject (an OIDC caller) mints slips on its own row as the pool', async () => {
    await f.h.ak.ensureSubject('https://idp.example|agent-7', { budgetCents: 30 });
    const row = (await f.h.ak.getSubject('https://idp.example|agent-7'))!;
    const subject: Caller = {
      kind: 'subject',
      id: row.id,
      subject: row.subject,
      accountId: row.accountId,
      scopes: null,
      expiresAt: null,
    };
    const asked = await f.h.access.request(subject, 'github', { reason: 'oidc slips' });
    expect(asked.ok && (await f.h.access.approve(asked.request.id, { actor: ADMIN })).ok).toBe(true);
    await f.h.access.withAgentKey(subject, 'github:repos.read', { ttl: '10s' }, async (permit) => {
      expect((await f.h.ak.getKey(permit.id))?.poolParentId).toBe(row.id);
      expect((await f.h.call('GET', '/proxy/github/repos/x', permit.token)).status).toBe(200);
    });
  });

  it('over HTTP: POST /permits mints (no-store), DELETE /permits/:id revokes; unknown actions are 400s', async () => {
    const minted = await f.h.call('POST', '/permits', parent.key, {
      action: 'github:repos.read',
      ttl: '10s',
    });
    expect(minted.status).toBe(201);
    expect(Object.keys(minted.body.permit).sort()).toEqual(['action', 'expiresAt', 'id', 'token']);
    expect(minted.body.permit.token).toMatch(/^akp_[A-Za-z0-9_-]{43}$/);
    const viaProxy = await f.h.call('GET', '/proxy/github/repos/x', minted.body.permit.token);
    expect(viaProxy.status).toBe(200);
    expect(minted.headers.get('cache-control')).toBe('no-store');
    const unknown = await f.h.call('POST', '/permits', parent.key, { action: 'github:repos.delete' });
    expect([unknown.status, unknown.body.error_description]).toEqual([
      400,
      'tool github has no action repos.delete',
    ]);
    const revoked = await f.h.call('DELETE', `/permits/${minted.body.permit.id}`, parent.key);
    expect(revoked.body).toEqual({ revoked: true });
    const afterRevoke = await f.h.call('GET', '/proxy/github/repos/x', minted.body.permit.token);
    expect([afterRevoke.status, afterRevoke.body.error]).toEqual([401, 'invalid_token']);
    const again = await f.h.call('DELETE', `/permits/${minted.body.permit.id}`, parent.key);
    expect(again.body).toEqual({ revoked: false });
  });
});
