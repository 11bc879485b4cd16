import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

describe('rate limits on vends', () => {
  const f = harnessPerFile();

  it('50 concurrent vends on a grant limited to 10/min admit exactly 10; the rest are 429 with Retry-After', async () => {
    const { key } = await grantedAgent(f.h, { narrowing: { rateLimit: { requests: 10, windowSec: 60 } } });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => f.h.call('GET', '/tools/github/credentials', key)),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(refused.body.error).toBe('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    const vends = (await f.h.access.audit({ toolId: 'github', limit: 1000 })).filter(
      (r) => r.action === 'credential.vended',
    );
    expect(vends).toHaveLength(10);
  });

  it('per-credential windows on reads and requests (configured on Access) answer 429', async () => {
    const { Access } = await import('@agentkey/access');
    const limited = new Access({
      ak: f.h.ak,
      pool: f.h.db.pool,
      secretKeys: f.h.secretKeys,
      rateLimits: { read: { perCredential: { requests: 2, windowSec: 60 } } },
    });
    const made = await f.h.ak.create({ accountId: 'acme' });
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

describe('rate limits per tool on proxied calls', () => {
  const f = harnessPerFile({
    harness: { access: { rateLimits: { proxy: { perTool: { requests: 3, windowSec: 60 } } } } },
  });

  it('count every agent of the tool together: the fourth call is a 429 with Retry-After, not forwarded', async () => {
    const a = await grantedAgent(f.h);
    const b = await grantedAgent(f.h);
    const statuses = [];
    for (const key of [a.key, b.key, a.key])
      statuses.push((await f.h.call('GET', '/proxy/github/repos/x', key)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const count = f.upstream.seen.length;
    const fourth = await f.h.call('GET', '/proxy/github/repos/x', b.key);
    expect([fourth.status, fourth.body.error]).toEqual([429, 'rate_limited']);
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(f.upstream.seen.length).toBe(count);
  });
});
