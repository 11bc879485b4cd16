import { once } from 'node:events';
import { IncomingMessage } from 'node:http';
import { connect, Socket } from 'node:net';
import type { AgentKey } from '@agentkey/core';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizationLineCount,
  requestAuthorization,
  SEVERAL_HEADERS,
} from '../src/authorization-header.js';
import { LIBS, type Loaded, load, type Served, serve } from './support/http.js';

describe('requestAuthorization', () => {
  it('counts the wire lines from headersDistinct, then rawHeaders; a request built by hand has none', () => {
    const rawHeaders = ['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b'];
    expect(authorizationLineCount({ headers: {}, rawHeaders })).toBe(2);
    expect(authorizationLineCount({ headers: {}, headersDistinct: { authorization: ['a'] } })).toBe(1);
    expect(authorizationLineCount({ headers: { authorization: 'Bearer a' }, rawHeaders: [] })).toBe(0);
    expect(authorizationLineCount({ headers: { authorization: 'Bearer a' } })).toBe(0);
  });

  it("takes the header from req.headers as the app left it, refusing only the wire's duplicates", () => {
    const rawHeaders = ['Authorization', 'Bearer wire'];
    // An app copied X-API-Key in, or deleted the header: its value wins over the wire's line.
    expect(requestAuthorization({ headers: { authorization: 'Bearer app' }, rawHeaders })).toEqual({
      ok: true,
      header: 'Bearer app',
    });
    expect(requestAuthorization({ headers: {}, rawHeaders })).toEqual({ ok: true, header: undefined });
    expect(
      requestAuthorization({
        headers: { authorization: 'Bearer a' },
        rawHeaders: [...rawHeaders, ...rawHeaders],
      }),
    ).toMatchObject({ ok: false, error: { code: 'invalid_request', description: SEVERAL_HEADERS } });
  });
});

// Node keeps only the first Authorization line in req.headers; these go through a real socket.
describe.each(LIBS)(
  'the Authorization header on a real %s server: several lines refused, req.headers as the app left it',
  (lib) => {
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
    const whoami = (req: Request, res: Response) => {
      res.json({ passed: true, id: req.agentKey?.id ?? null });
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
      // 0.2.0 read req.headers.authorization, so apps rewrite it first: take the key from X-API-Key
      // (or a cookie) and hand it on there, or strip the client's header for public paths.
      const fromApiKey = (req: Request, _res: Response, next: NextFunction) => {
        const apiKey = req.headers['x-api-key'];
        if (typeof apiKey === 'string') req.headers.authorization = `Bearer ${apiKey}`;
        next();
      };
      const strip = (req: Request, _res: Response, next: NextFunction) => {
        delete req.headers.authorization;
        next();
      };
      app.get('/legacy-xkey', fromApiKey, agentKeyMiddleware(ak), whoami);
      app.get('/legacy-stripped', strip, agentKeyMiddleware(ak), whoami);
      app.get('/auth-xkey', fromApiKey, agentKeyAuth({ agentKey: ak }), whoami);
      app.get('/auth-stripped', strip, agentKeyAuth({ agentKey: ak }), whoami);
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

    /** Writes `head` as is (CRLF line ends), as no HTTP client would, and returns the status. */
    const raw = async (head: string[]): Promise<number> => {
      const socket = connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`${[...head, 'Connection: close'].join('\r\n')}\r\n\r\n`);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      await Promise.race([once(socket, 'end'), once(socket, 'close')]);
      return Number(/^HTTP\/1\.[01] (\d{3})/.exec(Buffer.concat(chunks).toString('utf8'))?.[1] ?? 0);
    };

    it('refuses duplicates that differ in case, are empty, or come over HTTP/1.0, and a folded line', async () => {
      const before = await used(goodId);
      const cases: string[][] = [
        ['GET /auth HTTP/1.1', 'Host: x', `Authorization: Bearer ${good}`, 'AUTHORIZATION: Bearer ak_x'],
        ['GET /auth HTTP/1.1', 'Host: x', `authorization: Bearer ${good}`, 'Authorization:'],
        ['GET /auth HTTP/1.1', 'Host: x', 'Authorization:', `Authorization: Bearer ${good}`],
        ['GET /auth HTTP/1.0', `Authorization: Bearer ${good}`, 'authorization: Bearer ak_x'],
        ['GET /legacy HTTP/1.1', 'Host: x', `Authorization: Bearer ${good}`, 'Authorization: '],
        ['GET /legacy HTTP/1.0', `Authorization: Bearer ${good}`, 'AuThOrIzAtIoN: Bearer ak_x'],
      ];
      for (const head of cases) expect([head, await raw(head)]).toEqual([head, 400]);
      // A folded (obs-fold) line must not smuggle a second token in, nor pass with a mangled one.
      const folded = await raw(['GET /auth HTTP/1.1', 'Host: x', `Authorization: Bearer ${good}`, ' ak_x']);
      expect([400, 401]).toContain(folded);
      expect(await used(goodId)).toBe(before);
    });

    it('a key the app put into req.headers.authorization is honoured', async () => {
      const legacy = await server.request('GET', '/legacy-xkey', { headers: { 'x-api-key': good } });
      expect([legacy.status, legacy.body]).toEqual([200, { passed: true, id: goodId }]);
      const auth = await server.request('GET', '/auth-xkey', { headers: { 'x-api-key': good } });
      expect(auth.status).toBe(200);
    });

    it('an Authorization the app removed from req.headers is not used', async () => {
      const legacy = await server.request('GET', '/legacy-stripped', { key: good });
      expect([legacy.status, legacy.body]).toEqual([401, { error: 'Missing API key' }]);
      const auth = await server.request('GET', '/auth-stripped', { key: good });
      expect([auth.status, auth.body.error]).toEqual([401, 'missing_credential']);
    });

    it('a request built as serverless adapters build it (headers assigned, no rawHeaders) authenticates', async () => {
      // serverless-http and @vendia/serverless-express create an IncomingMessage and assign
      // req.headers from the Lambda event: rawHeaders stays [], so headersDistinct is {}.
      const req = new IncomingMessage(new Socket());
      Object.assign(req, { method: 'GET', url: '/legacy', headers: { authorization: `Bearer ${good}` } });
      const answer = await new Promise<unknown>((resolve) => {
        const res = {
          headersSent: false,
          status: (code: number) => ({ json: (body: unknown) => resolve({ code, body }) }),
        };
        env.pkg.agentKeyMiddleware(ak)(req as never, res as never, () => resolve('next'));
      });
      expect(answer).toBe('next');
      expect((req as unknown as Request).agentKey?.id).toBe(goodId);
    });
  },
);
