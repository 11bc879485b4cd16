import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentKey } from '@agentkey/core';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIBS, type Loaded, load } from './support/http.js';

/** Waits (bounded) for an asynchronous close to land; fails the test if it never does. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the hold was never closed');
}

/** Costs a handler might declare by mistake, and what the report must say was wrong. */
const BAD_COSTS: Record<string, [unknown, string]> = {
  third: [1 / 3, 'more precision than 0.0001 cents'],
  string: ['3', 'finite number'],
  null: [null, 'is null'],
  negative: [-1, 'must not be negative'],
};

describe.each(LIBS)('agentKeyAuth hold option on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let server: http.Server;
  let base: string;
  let n = 0;
  const errors: unknown[] = [];
  const release: Array<() => void> = [];
  let slowRuns = 0;

  const holdOf = async (keyId: number) =>
    (
      await db.pool.query(
        `SELECT state, settled_micros::float8 AS settled FROM ${db.table}_holds WHERE principal_id = $1`,
        [keyId],
      )
    ).rows[0];
  /** The key's hold once it is no longer open (closing runs after the response). */
  const closedHold = (keyId: number) =>
    until(
      () => holdOf(keyId),
      (h) => h.state !== 'open',
    );

  beforeAll(async () => {
    env = await load(lib);
    ({ ak, db } = await env.support.openStore('postgres'));
    const app = env.express();
    const gate = env.pkg.agentKeyAuth({ agentKey: ak, hold: 10, onError: (e: unknown) => errors.push(e) });
    app.get('/stream', gate, (_req: Request, res: Response) => {
      res.write('first chunk\n');
      // Never finishes on its own: the client is expected to hang up.
      release.push(() => res.end());
    });
    app.get('/priced', gate, (_req: Request, res: Response) => {
      res.locals.agentKeyCostCents = 3.25;
      res.json({ ok: true });
    });
    app.get('/silent', gate, (_req: Request, res: Response) => {
      res.json({ ok: true });
    });
    app.get('/boom', gate, () => {
      throw new Error('handler failed');
    });
    app.get('/missing', gate, () => {
      throw Object.assign(new Error('no such thing'), { status: 404 });
    });
    app.get('/refused', gate, (_req: Request, res: Response) => {
      res.status(404).json({ error: 'not_found' });
    });
    app.get('/priced-refusal', gate, (_req: Request, res: Response) => {
      res.locals.agentKeyCostCents = 1.5;
      res.status(422).json({ error: 'unprocessable' });
    });
    app.get('/bad/:which', gate, (req: Request, res: Response) => {
      res.locals.agentKeyCostCents = BAD_COSTS[req.params.which as string]![0];
      res.json({ ok: true });
    });
    // The hold amount takes a while to compute, long enough for the client to hang up.
    const slow = env.pkg.agentKeyAuth({
      agentKey: ak,
      hold: async () => {
        await new Promise((r) => setTimeout(r, 300));
        return 10;
      },
      onError: (e: unknown) => errors.push(e),
    });
    app.get('/slow', slow, (_req: Request, res: Response) => {
      slowRuns++;
      res.json({ ok: true });
    });
    // Like Express's default handler: an error's own status, else 500.
    app.use((err: { status?: number }, _req: Request, res: Response, _next: unknown) => {
      res.status(err.status ?? 500).json({ error: 'failed' });
    });
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of release) r();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await db.close();
  });

  const key = () => ak.create({ accountId: `hold_${lib}_${++n}`, budgetCents: 100 });
  const get = (path: string, k: string) =>
    fetch(base + path, { headers: { authorization: `Bearer ${k}` }, signal: AbortSignal.timeout(5000) });

  it('a client that disconnects mid-stream releases the hold', async () => {
    const { key: k, id } = await key();
    const req = http.get(`${base}/stream`, { headers: { authorization: `Bearer ${k}` } });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    await once(res, 'data'); // the handler is mid-stream, the hold is open
    expect(await holdOf(id)).toMatchObject({ state: 'open' });
    req.destroy();
    expect(await closedHold(id)).toMatchObject({ state: 'released' });
    expect((await ak.getKey(id))!.budget.usedCents).toBe(0);
  });

  it('settles the cost the handler declares in res.locals', async () => {
    const { key: k, id } = await key();
    expect((await get('/priced', k)).status).toBe(200);
    expect(await closedHold(id)).toEqual({ state: 'settled', settled: 32_500 });
    expect((await ak.getKey(id))!.budget.usedCents).toBe(3.25);
  });

  it('settles the whole hold when no cost was declared: never free', async () => {
    const { key: k, id } = await key();
    expect((await get('/silent', k)).status).toBe(200);
    expect(await closedHold(id)).toEqual({ state: 'settled', settled: 100_000 });
  });

  it('releases the hold when the handler throws', async () => {
    const { key: k, id } = await key();
    expect((await get('/boom', k)).status).toBe(500);
    expect(await closedHold(id)).toMatchObject({ state: 'released' });
    expect((await ak.getKey(id))!.budget.usedCents).toBe(0);
  });

  it('releases the hold when the handler throws an HTTP error (4xx)', async () => {
    const { key: k, id } = await key();
    expect((await get('/missing', k)).status).toBe(404);
    expect(await closedHold(id)).toMatchObject({ state: 'released' });
    expect((await ak.getKey(id))!.budget.usedCents).toBe(0);
  });

  it('releases the hold when the handler answers 4xx without declaring a cost', async () => {
    const { key: k, id } = await key();
    expect((await get('/refused', k)).status).toBe(404);
    expect(await closedHold(id)).toMatchObject({ state: 'released' });
  });

  it('settles a declared cost even when the response is a 4xx', async () => {
    const { key: k, id } = await key();
    expect((await get('/priced-refusal', k)).status).toBe(422);
    expect(await closedHold(id)).toEqual({ state: 'settled', settled: 15_000 });
  });

  it('settles the whole hold and reports a declared cost that is not valid', async () => {
    for (const [which, [, wrong]] of Object.entries(BAD_COSTS)) {
      errors.length = 0; // each value's own report, not an earlier one's
      const { key: k, id } = await key();
      expect((await get(`/bad/${which}`, k)).status).toBe(200);
      expect(await closedHold(id)).toEqual({ state: 'settled', settled: 100_000 });
      const messages = errors.map((e) => String((e as Error).message));
      expect(messages.some((m) => m.includes('res.locals.agentKeyCostCents') && m.includes(wrong))).toBe(
        true,
      );
    }
  });

  it('releases the hold of a client gone before it was granted, without running the handler', async () => {
    const { key: k, id } = await key();
    const req = http.get(`${base}/slow`, { headers: { authorization: `Bearer ${k}` } });
    req.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    req.destroy(); // the gate is still computing the hold
    expect(
      await until(
        () => holdOf(id),
        (h) => h !== undefined && h.state !== 'open',
      ),
    ).toMatchObject({ state: 'released' });
    expect(slowRuns).toBe(0);
  });

  it('admits a request only when its hold fits', async () => {
    const { key: k, id } = await ak.create({ accountId: `hold_${lib}_small`, budgetCents: 5 });
    const reply = await get('/priced', k);
    expect(reply.status).toBe(429);
    expect(await holdOf(id)).toBeUndefined();
  });
});
