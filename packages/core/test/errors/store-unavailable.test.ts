import { AgentKey, type Queryable, type Verifier } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeUnavailable } from '../../src/errors/store-unavailable.js';

/** A real pool to a port nothing listens on: every query fails with the driver's ECONNREFUSED. */
const unreachable = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 2000 });
unreachable.on('error', () => {});

let db: TestDb;
beforeAll(async () => {
  ({ db } = await openStore('postgres'));
});
afterAll(async () => {
  await unreachable.end();
  await db.close();
});

/** The migrated store for reads; its writes go to the unreachable server. */
let inserts = 0;
const readOnly: Queryable = {
  query: (text: string, params?: unknown[]) => {
    if (!text.includes('INSERT INTO')) return db.pool.query(text, params);
    inserts++;
    return unreachable.query(text, params);
  },
};

const verifier: Verifier = {
  id: 'ext',
  accepts: (c) => c.startsWith('tok_'),
  verify: async () => ({
    ok: true,
    identity: { subject: 'ext|a', scopes: null, expiresAt: null, claims: {} },
  }),
};

// "The key store cannot answer." was built in three places, one without retryAfterSec: every path
// where the store fails now answers with the same words and the same retry.
describe('a store that cannot answer says so the same way on every path', () => {
  it('authorize, settle and first-sight provisioning give one description and retryAfterSec', async () => {
    const authorize = await new AgentKey({ pool: unreachable }).authorize('ak_abcdefghijklmnop', {
      costCents: 1,
    });
    const settle = await new AgentKey({ pool: unreachable }).settle('1', { costCents: 1 });
    const gate = new AgentKey({ pool: readOnly, tableName: db.table }).gate({
      verifiers: [verifier],
      firstSeen: { scopes: null, budgetCents: 10 },
    });
    const provision = await gate.authenticate('tok_a');
    expect(inserts).toBe(1); // the subject's row: authorize found none, first sight tried to write it
    const errors = [authorize, settle, provision].map((r) => (r.ok ? null : r.error));
    for (const error of errors) {
      expect(error).toMatchObject({
        code: 'unavailable',
        description: 'The key store cannot answer.',
        retryAfterSec: 1,
        cause: { code: 'ECONNREFUSED' },
      });
    }
  });

  it('an unmigrated table is named in the cause, never in the description', () => {
    const missing = Object.assign(new Error('relation "x" does not exist'), { code: '42P01' });
    const error = storeUnavailable(missing, 'public.keys');
    expect(error).toMatchObject({
      code: 'unavailable',
      description: 'The key store cannot answer: its table is not migrated (run ak.migrate()).',
      retryAfterSec: 1,
    });
    expect(error.description).not.toContain('public.keys');
    expect((error.cause as Error).message).toBe(
      'agentkey: table public.keys does not exist (relation "x" does not exist): run ak.migrate()',
    );
    expect((error.cause as Error).cause).toBe(missing);
  });
});
