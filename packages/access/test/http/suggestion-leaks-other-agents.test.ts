import { describe, expect, it } from 'vitest';
import { harnessPerFile } from '../support/setup.js';

// "3 agents want Linear" is the aggregate; what each other agent wrote is for the approvers only.
describe('POST /tools/suggest', () => {
  const f = harnessPerFile({ tool: false });

  it("answers the count, never another agent's reason or URL (those are for GET /admin/suggestions)", async () => {
    const first = await f.h.ak.create({ accountId: 'acme' });
    const second = await f.h.ak.create({ accountId: 'globex' });
    const private_ = 'migrating the Q3 layoffs tracker';
    await f.h.call('POST', '/tools/suggest', first.key, {
      name: 'Linear',
      url: 'https://linear.internal.acme.example/',
      reason: private_,
    });
    const answer = await f.h.call('POST', '/tools/suggest', second.key, {
      name: 'Linear',
      url: 'https://linear.app',
      reason: 'triage',
    });
    expect(answer.status).toBe(201);
    expect(answer.body.summary).toBe('2 agents want Linear');
    const text = JSON.stringify(answer.body);
    expect(text).not.toContain(private_);
    expect(text).not.toContain('acme.example');
  });
});
