import {
  AgentKey,
  AgentKeyInputError,
  type AuthorizeResult,
  Gate,
  type Queryable,
  type Verifier,
} from '@agentkey/core';
import { describe, expect, it } from 'vitest';
import { AgentKeyInputError as InputError } from '../../src/errors/errors.js';
import { GATE_STORE, type GateStore } from '../../src/gate/store-port.js';

const verifier = (delegatedBy?: string): Verifier => ({
  id: 'ext',
  accepts: (c) => c.startsWith('tok_'),
  verify: async () => ({
    ok: true,
    identity: {
      subject: 'ext|a',
      scopes: null,
      expiresAt: null,
      claims: {},
      ...(delegatedBy ? { delegatedBy } : {}),
    },
  }),
});

const principal = { id: 7, accountId: 'ext|a', userId: null, name: 'default', scopes: null, expiresAt: null };
const passed = {
  ok: true,
  principal,
  budget: { limitCents: null, usedCents: 0, remainingCents: null, heldCents: 0, resetAt: null },
  chargedCents: 0,
} as unknown as AuthorizeResult;
const unknown: AuthorizeResult = {
  ok: false,
  error: { code: 'invalid_token', reason: 'unknown', description: 'Unknown credential.' },
};

/** A store that is only the port: the gate must need nothing else. */
function fakeStore() {
  const calls: string[] = [];
  let rows = 0;
  const store: GateStore = {
    keyPrefix: 'ak_',
    authorize: async (credential) => {
      calls.push(`authorize ${JSON.stringify(credential)}`);
      return rows > 0 ? passed : unknown;
    },
    subjectOptionsRefusal: (options) => {
      calls.push(`check ${JSON.stringify(options.scopes)}`);
      return null;
    },
    provision: async (subject) => {
      calls.push(`provision ${subject}`);
      rows++;
      return { ok: true, created: true };
    },
  };
  return { owner: { [GATE_STORE]: store }, calls };
}

describe('the gate works through the store port', () => {
  it('an object that lends only a GateStore is enough: first sight checks, provisions, authorizes again', async () => {
    const { owner, calls } = fakeStore();
    const gate = new Gate(owner, {
      verifiers: [verifier()],
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
    const { owner, calls } = fakeStore();
    const store = owner[GATE_STORE];
    let refuse = false; // the policy passes at construction; the row placed for this identity does not
    const gate = new Gate(
      {
        [GATE_STORE]: {
          ...store,
          subjectOptionsRefusal: (o) =>
            refuse ? new InputError('delegatedBy must be printable') : store.subjectOptionsRefusal(o),
        },
      },
      { verifiers: [verifier()], firstSeen: { scopes: null, budgetCents: 5 } },
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
      query: (text: string) => {
        if (text.includes('INSERT INTO')) inserts++;
        return Promise.resolve({ rows: [] });
      },
    };
    const gate = new AgentKey({ pool }).gate({
      verifiers: [verifier('d\u202e')],
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
  });
});
