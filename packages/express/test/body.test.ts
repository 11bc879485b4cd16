import type { AgentKey } from '@agentkey/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyUnparsed } from '../src/body.js';
import { countRows, LIBS, type Loaded, load, type Served, serve } from './support/http.js';

const UNPARSED = {
  error:
    'The request body was not parsed: send it with Content-Type: application/json, and mount app.use(express.json()) before the agentkey routes',
};

describe('bodyUnparsed', () => {
  it('is true only for a body that came with the request but not through a JSON parser', () => {
    const json = { 'content-type': 'application/json; charset=utf-8' };
    expect(bodyUnparsed({ headers: { ...json, 'content-length': '12' } })).toBe(true);
    expect(bodyUnparsed({ headers: { ...json, 'transfer-encoding': 'chunked' } })).toBe(true);
    expect(bodyUnparsed({ headers: { 'content-length': '0' } })).toBe(false);
    expect(bodyUnparsed({ headers: {} })).toBe(false);
    expect(bodyUnparsed({ body: {}, headers: { ...json, 'content-length': '12' } })).toBe(false);
    const merge = { 'content-type': 'application/merge-patch+json', 'content-length': '2' };
    expect(bodyUnparsed({ body: {}, headers: merge })).toBe(false);
    // Express 4's parser sets req.body = {} for a type it skips: the Content-Type tells.
    for (const type of [
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'application/jsonx',
    ]) {
      expect(bodyUnparsed({ body: {}, headers: { 'content-type': type, 'content-length': '12' } })).toBe(
        true,
      );
    }
    expect(bodyUnparsed({ body: {}, headers: { 'content-length': '12' } })).toBe(true);
  });
});

describe.each(LIBS)('the routes with a body no JSON parser read, on %s', (lib) => {
  let env: Loaded;
  let ak: AgentKey;
  let db: Awaited<ReturnType<Loaded['support']['openStore']>>['db'];
  let bare: Served;
  let parsed: Served;

  beforeAll(async () => {
    env = await load(lib);
    ({ ak, db } = await env.support.openStore('postgres'));
    const options = { requireEmailForSignup: false, onError: () => {} };
    const app = env.express();
    app.use(env.pkg.createAgentKeyRoutes(ak, options));
    bare = await serve(app);
    const withParser = env.express();
    withParser.use(env.express.json());
    withParser.use(env.pkg.createAgentKeyRoutes(ak, options));
    parsed = await serve(withParser);
  });
  afterAll(async () => {
    await Promise.all([bare.close(), parsed.close()]);
    await db.close();
  });

  it('answer 400 naming express.json(), not a misleading 403 or a default key, and write nothing', async () => {
    const capped = await ak.create({ accountId: `acct_${lib}`, budgetCents: 100 });
    const before = await countRows(db);
    const child = await bare.request('POST', '/sdk-keys', { key: capped.key, body: { budget_cents: 10 } });
    expect([child.status, child.body]).toEqual([400, UNPARSED]);
    const signup = await bare.request('POST', '/signup', { body: { email: 'a@example.com' } });
    expect([signup.status, signup.body]).toEqual([400, UNPARSED]);
    expect(await countRows(db)).toBe(before);
  });

  it('answer the same 400 when express.json() skipped a non-JSON Content-Type (fetch sends text/plain)', async () => {
    const textPlain = (key?: string) => ({
      'content-type': 'text/plain;charset=UTF-8',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    });
    const capped = await ak.create({ accountId: `acct_${lib}_text`, budgetCents: 100 });
    const before = await countRows(db);
    for (const server of [bare, parsed]) {
      const child = await server.rawRequest(
        'POST',
        '/sdk-keys',
        textPlain(capped.key),
        '{"budget_cents":10}',
      );
      expect([child.status, child.body]).toEqual([400, UNPARSED]);
      const signup = await server.rawRequest('POST', '/signup', textPlain(), '{"email":"a@example.com"}');
      expect([signup.status, signup.body]).toEqual([400, UNPARSED]);
    }
    expect(await countRows(db)).toBe(before);
  });

  it('still read a request with no body as {}', async () => {
    const unlimited = await ak.create({ accountId: `acct_${lib}_free` });
    for (const server of [bare, parsed]) {
      const child = await server.request('POST', '/sdk-keys', { key: unlimited.key });
      expect([child.status, child.body.budgetCents]).toEqual([201, null]);
      const signup = await server.request('POST', '/signup');
      expect([signup.status, signup.body.budgetCents]).toEqual([201, 100]);
    }
  });
});
