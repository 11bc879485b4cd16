import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// An action name is looked up in the tool's actions, a plain object read from JSONB: a name that is
// an Object.prototype member (`constructor`) is no action of the tool.
describe('permit slip action names', () => {
  const f = harnessPerFile();

  it('constructor, no action of the tool, is refused 400 and mints nothing', async () => {
    const a = await grantedAgent(f.h);
    const minted = await f.h.access.mintPermit(a.caller, 'github:constructor', { ttl: '60s' });
    expect(minted).toMatchObject({ ok: false, code: 'bad_request' });
    const { rows } = await f.h.db.pool.query(
      `SELECT count(*)::int AS n FROM ${f.h.access.internals.ctx.names.slips} WHERE agent_id = $1`,
      [a.id],
    );
    expect(rows[0].n).toBe(0);
  });

  it('a slip whose action the tool dropped since, when the name is an Object member, is 403 not 500', async () => {
    const a = await grantedAgent(f.h);
    const minted = await f.h.access.mintPermit(a.caller, 'github:repos.read', { ttl: '60s' });
    if (!minted.ok) throw new Error(minted.message);
    const { ctx } = f.h.access.internals;
    // The row names an action the tool does not have (as after the tool was redefined).
    await f.h.db.pool.query(`UPDATE ${ctx.names.slips} SET action = 'constructor' WHERE key_id = $1`, [
      minted.permit.id,
    ]);
    const r = await f.h.call('GET', '/proxy/github/repos/x', minted.permit.token);
    expect([r.status, r.body.error]).toEqual([403, 'not_permitted']);
  });
});
