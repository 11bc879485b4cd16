import type { AgentKey } from '@agentkey/core';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationLines } from '../src/authorization-header.js';
import { LIBS, type Loaded, load, type Served, serve } from './support/http.js';

describe('authorizationLines', () => {
  it('falls back to rawHeaders, then to headers, for request objects without headersDistinct', () => {
    const rawHeaders = ['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b'];
    expect(authorizationLines({ headers: { authorization: 'Bearer a' }, rawHeaders })).toEqual([
      'Bearer a',
      'Bearer b',
    ]);
    expect(authorizationLines({ headers: { authorization: 'Bearer a' } })).toEqual(['Bearer a']);
    expect(authorizationLines({ headers: {} })).toEqual([]);
  });
});

// Node keeps only the first Authorization line in req.headers; these go through a real socket.
describe.each(LIBS)('two Authorization headers on a real %s server', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let server: Served;
  let good: string;
  let goodId: number;

  const used = async (id: number) => (await ak.getKey(id))!.budget.usedCents;
  const echo = (_req: Request, res: Response) => {
    res.json({ passed: true });
  };

  beforeAll(async () => {
    env = await load(lib);
    ({ ak, db } = await env.support.openStore('postgres'));
    ({ key: good, id: goodId } = await ak.create({ accountId: `acct_${lib}`, budgetCents: 100 }));
    const { agentKeyAuth, agentKeyMiddleware, createAgentKeyRoutes } = env.pkg;
    const app = env.express();
    app.use(env.express.json());
    app.get('/auth', agentKeyAuth({ agentKey: ak, cost: 1 }), echo);
    app.get('/legacy', agentKeyMiddleware(ak), echo);
    app.use(createAgentKeyRoutes(ak));
    server = await serve(app);
  });
  afterAll(async () => {
    await server.close();
    await db.close();
  });

  const pairs = () => [
    [`Bearer ${good}`, 'Bearer ak_forged'],
    ['Bearer ak_forged', `Bearer ${good}`],
    [`Bearer ${good}`, `Bearer ${good}`],
  ];

  it('agentKeyAuth answers 400 invalid_request and charges nothing', async () => {
    for (const authorization of pairs()) {
      const reply = await server.rawRequest('GET', '/auth', { authorization });
      expect([authorization, reply.status, reply.body]).toEqual([
        authorization,
        400,
        { error: 'invalid_request', error_description: 'Send one Authorization header, not several.' },
      ]);
      expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="api", error="invalid_request"');
    }
    expect(await used(goodId)).toBe(0);
    // One line still passes through the same raw path.
    const one = await server.rawRequest('GET', '/auth', { authorization: `Bearer ${good}` });
    expect([one.status, await used(goodId)]).toEqual([200, 1]);
  });

  it('agentKeyMiddleware and the routes answer 400 invalid_request, never pass', async () => {
    const refusal = {
      error: 'invalid_request',
      error_description: 'Send one Authorization header, not several.',
    };
    for (const authorization of pairs()) {
      for (const [method, path] of [
        ['GET', '/legacy'],
        ['GET', '/sdk-keys/me'],
        ['POST', '/sdk-keys'],
        ['DELETE', `/sdk-keys/${goodId}`],
      ] as const) {
        const reply = await server.rawRequest(method, path, { authorization });
        expect([path, reply.status, reply.body]).toEqual([path, 400, refusal]);
      }
    }
    expect(await ak.validate(good)).toMatchObject({ valid: true });
    const one = await server.rawRequest('GET', '/legacy', { authorization: `Bearer ${good}` });
    expect([one.status, one.body]).toEqual([200, { passed: true }]);
  });
});
