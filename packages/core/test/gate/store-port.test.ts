import { AgentKey, AgentKeyInputError, Gate, type Queryable, type Verifier } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentKeyInputError as InputError } from '../../src/errors/errors.js';
import { GATE_STORE, type GateStore } from '../../src/gate/store-port.js';

const verifier = (subject: string, delegatedBy?: string): Verifier => ({
  id: 'ext',
  accepts: (c) => c.startsWith('tok_'),
  verify: async () => ({
    ok: true,
    identity: {
      subject,
      scopes: null,
      expiresAt: null,
      claims: {},
      ...(delegatedBy ? { delegatedBy } : {}),
    },
  }),
});

/**
 * The port an AgentKey on PostgreSQL lends, wrapped so the test sees each call: an owner that
 * lends only this (no AgentKey around it) must be all the gate needs.
 */
function recordingPort(ak: AgentKey, override: Partial<GateStore> = {}) {
  const calls: string[] = [];
  const real = (ak as unknown as { [GATE_STORE]: GateStore })[GATE_STORE];
  const store: GateStore = {
    keyPrefix: real.keyPrefix,
    authorize: (credential, options) => {
      calls.push(`authorize ${JSON.stringify(credential)}`);
      return real.authorize(credential, options);
    },
    subjectOptionsRefusal: (options) => {
      calls.push(`check ${JSON.stringify(options.scopes)}`);
      return real.subjectOptionsRefusal(options);
    },
    provision: (subject, options) => {
      calls.push(`provision ${subject}`);
      return real.provision(subject, options);
    },
    ...override,
  };
  return { owner: { tableName: ak.tableName, keyPrefix: ak.keyPrefix, [GATE_STORE]: store }, store, calls };
}

describe('the gate works through the store port', () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());

  it('an object that lends only a GateStore is enough: first sight checks, provisions, authorizes again', async () => {
    const { owner, calls } = recordingPort(ak);
    const gate = new Gate(owner, {
      verifiers: [verifier('ext|a')],
      firstSeen: { scopes: ['read'], budgetCents: 5 },
    });
    const result = await gate.authenticate('tok_x');
    expect(result).toMatchObject({ ok: true, provisioned: true, principal: { verifier: 'ext' } });
    expect(calls).toEqual([
      'check ["read"]', // at construction: the policy as the store would refuse it
      'authorize {"subject":"ext|a"}',
      'check ["read"]', // on first sight: the row as it will be written
      'provision ext|a',
      'authorize {"subject":"ext|a"}',
    ]);
  });

  it('a row the store would refuse at first sight is unprovisioned, and nothing is written', async () => {
    let refuse = false; // the policy passes at construction; the row placed for this identity does not
    const { owner, store, calls } = recordingPort(ak);
    const gate = new Gate(
      {
        ...owner,
        [GATE_STORE]: {
          ...store,
          subjectOptionsRefusal: (o) =>
            refuse ? new InputError('delegatedBy must be printable') : store.subjectOptionsRefusal(o),
        },
      },
      { verifiers: [verifier('ext|b')], firstSeen: { scopes: null, budgetCents: 5 } },
    );
    refuse = true;
    expect(await gate.authenticate('tok_x')).toEqual({
      ok: false,
      error: {
        code: 'unprovisioned',
        description: 'First-sight provisioning refused: delegatedBy must be printable',
      },
    });
    expect(calls.filter((c) => c.startsWith('provision'))).toEqual([]);
  });

  it('is built from an AgentKey, and refuses anything else', () => {
    const ak = new AgentKey({ pool: { query: () => Promise.reject(new Error('never called')) } });
    expect(new Gate(ak)).toBeInstanceOf(Gate);
    expect(() => new Gate({} as never)).toThrow(AgentKeyInputError);
    expect(() => new Gate(undefined as never)).toThrow(/built from an AgentKey/);
  });

  it("the store calls are not on AgentKey's public type", () => {
    const ak = new AgentKey({ pool: { query: () => Promise.reject(new Error('never called')) } });
    // @ts-expect-error the gate provisions through the port: applications call ensureSubject
    expect(ak.provisionSubject).toBeUndefined();
    // @ts-expect-error the gate's option check is the port's, not AgentKey's
    expect(ak.checkSubjectOptions).toBeUndefined();
    expect(Object.keys(ak)).not.toContain(String(GATE_STORE));
  });

  it('a first-sight row AgentKey would refuse (an unusable delegatedBy) is unprovisioned, never written', async () => {
    let inserts = 0;
    const pool: Queryable = {
      query: (text: string, params?: unknown[]) => {
        if (text.includes('INSERT INTO')) inserts++;
        return db.pool.query(text, params);
      },
    };
    const gate = new AgentKey({ pool, tableName: db.table }).gate({
      verifiers: [verifier('ext|c', 'd\u202e')],
      firstSeen: { scopes: null, budgetCents: 5 },
    });
    const result = await gate.authenticate('tok_x');
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'unprovisioned',
        description: expect.stringMatching(/^First-sight provisioning refused: delegatedBy/),
      },
    });
    expect(inserts).toBe(0);
    expect(await ak.getSubject('ext|c')).toBeNull();
  });
});
