import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// The charging rule: a call is charged when the upstream answered below 500. An agent that hangs up
// once the upstream has answered (and done the work) must not turn that call into a free one.
describe('an agent that hangs up after the upstream answered', () => {
  const f = harnessPerFile({
    upstream: (req, res) => {
      if (!req.url?.includes('/slow')) return false;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('working…\n'); // and never ends on its own
      return true;
    },
    tool: { costCents: 3 },
  });

  it('is still charged the tool cost', async () => {
    const a = await grantedAgent(f.h, { budgetCents: 100 });
    const { hostname, port } = new URL(f.h.origin);
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { hostname, port, path: '/proxy/github/repos/slow', headers: { authorization: `Bearer ${a.key}` } },
        (res) => {
          expect(res.statusCode).toBe(200);
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.on('close', resolve);
      req.setTimeout(10_000, () => reject(new Error('no answer')));
      req.end();
    });
    const row = await vi.waitFor(async () => {
      const rows = (await f.h.access.audit({ agentId: a.id })).filter((r) => r.action === 'proxy.called');
      expect(rows).toHaveLength(1);
      return rows[0]!;
    });
    expect(row.detail.costCents).toBe(3);
    expect((await f.h.ak.getKey(a.id))!.budget).toMatchObject({ usedCents: 3, heldCents: 0 });
  });
});
