import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentKey } from '../../src/agent-key.js';
import type { Verifier } from '../../src/gate/verifier.js';

/** A verifier plugin that records what the gate asked it to forget. */
function forgetful(id: string) {
  const forgotten: Array<string | null> = [];
  const verifier: Verifier = {
    id,
    accepts: (token) => token.startsWith(`${id}_`),
    verify: async (token) => ({
      ok: true,
      identity: { subject: `${id}|${token.slice(id.length + 1)}`, scopes: null, expiresAt: null, claims: {} },
    }),
    forget: (subject) => {
      forgotten.push(subject);
    },
  };
  return { verifier, forgotten };
}

describe("the gate tells its verifiers when a subject's row changes", () => {
  let db: TestDb;
  let ak: AgentKey;
  beforeAll(async () => {
    ({ db, ak } = await openStore('postgres'));
  });
  afterAll(() => db.close());

  it('a subject revoked or updated in this process is forgotten by the verifiers of every gate; a key change is not theirs', async () => {
    const a = forgetful('ea');
    const b = forgetful('eb');
    const gates = [ak.gate({ verifiers: [a.verifier] }), ak.gate({ verifiers: [b.verifier] })];
    await ak.ensureSubject('ea|one', { budgetCents: 10 });
    expect((await gates[0]!.authenticate('ea_one')).ok).toBe(true);
    await ak.updateSubject('ea|one', { scopes: ['read'] });
    await ak.revokeSubject('ea|one');
    const key = await ak.create({ accountId: 'acct-forget' });
    await ak.revoke(key.id);
    expect(a.forgotten).toEqual(['ea|one', 'ea|one']);
    expect(b.forgotten).toEqual(['ea|one', 'ea|one']);
  });

  it('a gate nobody holds any more is collected, and its verifiers are told nothing after', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const kept = forgetful('ek');
    const dropped = forgetful('ed');
    const gate = ak.gate({ verifiers: [kept.verifier] });
    ((v) => {
      ak.gate({ verifiers: [v] });
    })(dropped.verifier);
    await ak.ensureSubject('ek|two', { budgetCents: 10 });
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    await ak.revokeSubject('ek|two');
    expect(kept.forgotten).toEqual(['ek|two']);
    expect(dropped.forgotten).toEqual([]);
    expect(gate).toBeDefined();
  });
});
