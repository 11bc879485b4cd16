import type { AgentKey } from '@agentkey/core';
import type { Acknowledged, Caps } from './invariants.js';
import type { Answer, Command, Worker } from './procs.js';

/** A key the load charges: its secret and its row id. */
export interface Target {
  key: string;
  id: number;
}

/**
 * One account with a ceiling and three keys the load hammers: one with a cap of its own, one
 * roomy, and the child of a pool parent with a cap. Returns them and the caps to check.
 */
export async function hotAccount(
  ak: AgentKey,
  accountId: string,
  cents: { key: number; pool: number; account: number },
): Promise<{ targets: Target[]; caps: Caps }> {
  const ROOMY = 100_000;
  await ak.setAccountBudget(accountId, { budgetCents: cents.account });
  const capped = await ak.create({ accountId, budgetCents: cents.key });
  const roomy = await ak.create({ accountId, budgetCents: ROOMY });
  const parent = await ak.create({ accountId, budgetCents: cents.pool });
  const child = await ak.create({ accountId, poolParentId: parent.id });
  return {
    targets: [capped, roomy, child].map(({ key, id }) => ({ key, id })),
    caps: {
      keys: [
        { id: capped.id, capCents: cents.key },
        { id: roomy.id, capCents: ROOMY },
        { id: child.id, capCents: cents.pool },
      ],
      pools: [{ parentId: parent.id, childIds: [child.id], capCents: cents.pool }],
      accounts: [{ accountId, capCents: cents.account }],
    },
  };
}

export interface Load {
  /** Answers so far, by outcome (`ok`, an error code, or `died`: the worker went first). */
  readonly counts: Record<string, number>;
  /** Stops the loops and waits for the calls in flight. */
  stop(): Promise<Record<string, number>>;
}

/**
 * Hammers `targets` from `loops` concurrent loops in every worker until stopped: plain charges,
 * charges under an idempotency key repeated at once by the next worker (another process), holds
 * settled or released by the next worker. Only answers the parent received are recorded in
 * `acks`; a worker that dies ends its loops (its calls in flight are never acknowledged).
 */
export function hammer(
  workers: readonly Worker[],
  targets: readonly Target[],
  acks: Acknowledged,
  { name, loops = 4 }: { name: string; loops?: number },
): Load {
  const counts: Record<string, number> = {};
  let running = true;
  const count = (outcome: string) => {
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  };
  const ask = async (worker: Worker, command: Command): Promise<Answer | null> => {
    try {
      const answer = await worker.call(command);
      count(answer.ok ? 'ok' : answer.code!);
      return answer;
    } catch {
      count('died');
      return null;
    }
  };
  const loop = async (w: number, l: number) => {
    const me = workers[w]!;
    const other = workers[(w + 1) % workers.length]!;
    for (let n = 0; running; n++) {
      const target = targets[(n + l) % targets.length]!;
      const { key, id } = target;
      const kind = n % 4;
      if (kind === 0) {
        const a = await ask(me, { op: 'charge', key, cents: 1 });
        if (!a) return;
        if (a.ok) acks.plain.set(id, (acks.plain.get(id) ?? 0) + 1);
      } else if (kind === 1) {
        const idempotencyKey = `${name}-${w}-${l}-${n}`;
        acks.unacknowledgedKeys.set(idempotencyKey, 1);
        const first = await ask(me, { op: 'charge', key, cents: 1, idempotencyKey });
        const again = await ask(other, { op: 'charge', key, cents: 1, idempotencyKey });
        if (first?.ok || again?.ok) acks.keyed.set(idempotencyKey, { principal: id, cents: 1 });
        if (!first) return;
      } else {
        const hold = await ask(me, { op: 'hold', key, cents: 2 });
        if (!hold) return;
        if (!hold.ok || !hold.holdId) continue;
        acks.holds.set(hold.holdId, { principal: id, cents: 2 });
        const holdId = hold.holdId;
        const close =
          kind === 2
            ? await ask(other, { op: 'settle', holdId, cents: 1 })
            : await ask(other, { op: 'release', holdId });
        if (close?.ok && kind === 2) acks.settles.set(holdId, 1);
        if (close?.ok && kind === 3) acks.releases.add(holdId);
      }
    }
  };
  const all = Promise.all(workers.flatMap((_, w) => Array.from({ length: loops }, (_, l) => loop(w, l))));
  return {
    counts,
    async stop() {
      running = false;
      await all;
      return counts;
    },
  };
}
