import { describe, expect, it } from 'vitest';
import { harnessPerFile } from '../support/setup.js';

// Bad inputs get one clear error: ids past the columns' range reached SQL and came back as 500s.
describe('ids past the range of their columns', () => {
  const f = harnessPerFile({ tool: false });

  it('GET /admin/audit?agentId= and DELETE /permits/:id answer 400/404, not 500', async () => {
    const { key: admin } = await f.h.ak.create({ accountId: 'ops', scopes: ['access:admin'] });
    const { key: agent } = await f.h.ak.create({ accountId: 'acme' });
    const audit = await f.h.call('GET', '/admin/audit?agentId=99999999999', admin);
    expect([audit.status, audit.body.error]).toEqual([400, 'bad_request']);
    const revoke = await f.h.call('DELETE', '/permits/99999999999', agent);
    expect([revoke.status, revoke.body.error]).toEqual([404, 'unknown_request']);
  });
});
