import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  addTool,
  type Harness,
  startHarness,
  startUpstream,
  type Upstream,
} from '../support/setup.js';

describe('rate limits on vends', () => {
  let h: Harness;
  let upstream: Upstream;

  beforeAll(async () => {
    h = await startHarness();
    upstream = await startUpstream();
    await addTool(h.access, upstream);
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });

  it('50 concurrent vends on a grant limited to 10/min admit exactly 10; the rest are 429 with Retry-After', async () => {
    const { key } = await h.ak.create({ accountId: 'acme' });
    const id = (await h.call('POST', '/tools/github/request', key, { reason: 'burst' })).body.request.id;
    const approved = await h.access.approve(
      id,
      { actor: ADMIN },
      { rateLimit: { requests: 10, windowSec: 60 } },
    );
    expect(approved.ok).toBe(true);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => h.call('GET', '/tools/github/credentials', key)),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(refused.body.error).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    const vends = (await h.access.audit({ toolId: 'github', limit: 1000 })).filter(
      (r) => r.action === 'credential.vended',
    );
    expect(vends).toHaveLength(10);
  });

  it('per-credential windows on reads and requests (configured on Access) answer 429', async () => {
    const { Access } = await import('@agentkey/access');
    const limited = new Access({
      ak: h.ak,
      pool: h.db.pool,
      secretKeys: h.secretKeys,
      rateLimits: { read: { perCredential: { requests: 2, windowSec: 60 } } },
    });
    const made = await h.ak.create({ accountId: 'acme' });
    const caller = {
      kind: 'key' as const,
      id: made.id,
      subject: null,
      accountId: 'acme',
      scopes: null,
      expiresAt: null,
    };
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await limited.rate('read', caller)) ?? 'ok');
    expect(seen.slice(0, 2)).toEqual(['ok', 'ok']);
    expect(seen[2]).toMatchObject({ ok: false, code: 'rate_limited', retryAfterSec: expect.any(Number) });
  });
});
