import type { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBS, type Loaded, load, type Served, serve } from './support/http.js';

describe.each(LIBS)('agentKeyAuth idempotencyKey on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let server: Served;
  const used = async (id: number) => (await ak.getKey(id))!.budget.usedCents;

  beforeAll(async () => {
    env = await load(lib);
    ({ ak, db } = await env.support.openStore('postgres'));
    const { agentKeyAuth } = env.pkg;
    const app = env.express();
    const auth = agentKeyAuth({ agentKey: ak, cost: 3, idempotencyKey: (req) => req.get('idempotency-key') });
    app.post('/call', auth, (req, res) => {
      const p = req.agentKey as { chargedCents: number; replayed?: boolean };
      res.json({ charged: p.chargedCents, replayed: p.replayed ?? false });
    });
    server = await serve(app);
  });

  afterAll(async () => {
    await server.close();
    await db.close();
  });

  it('charges a repeat of one key once, and says it was a replay', async () => {
    const { key, id } = await ak.create({ accountId: `idem_${lib}`, budgetCents: 100 });
    const headers = { 'idempotency-key': 'req-1' };
    const first = await server.request('POST', '/call', { key, headers });
    const again = await server.request('POST', '/call', { key, headers });
    expect(first.body).toEqual({ charged: 3, replayed: false });
    expect(again.body).toMatchObject({ replayed: true });
    expect(await used(id)).toBe(3);
    // Another key, or no key at all, is another call.
    await server.request('POST', '/call', { key, headers: { 'idempotency-key': 'req-2' } });
    await server.request('POST', '/call', { key });
    expect(await used(id)).toBe(9);
  });

  it('refuses a malformed key as the caller’s error, charging nothing', async () => {
    const { key, id } = await ak.create({ accountId: `idem_bad_${lib}`, budgetCents: 100 });
    const reply = await server.request('POST', '/call', { key, headers: { 'idempotency-key': 'has space' } });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: 'invalid_request' });
    expect(await used(id)).toBe(0);
  });

  it('refuses an option that is not a function at construction, naming it', () => {
    const build = () => env.pkg.agentKeyAuth({ agentKey: ak, idempotencyKey: 'Idempotency-Key' as never });
    expect(build).toThrow(expect.objectContaining({ field: 'idempotencyKey' }));
  });
});
