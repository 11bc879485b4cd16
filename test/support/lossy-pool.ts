import type { Queryable } from '@agentkey/core';

/**
 * A pool in front of a real one that can lose answers the way a frozen server or a cut network
 * does, for the request path's statements (the resolver's `void_request` and anything else not
 * matching `affects` always pass):
 * - `lose-answer`: the statement runs and commits, but its answer is held back until `release()`;
 * - `send-late`: the statement itself is held back, and reaches the server at `release()` —
 *   as a query still queued in a pool, or a frozen server resuming, does;
 * - `drop-once`: the next statement fails as on a dropped connection, before reaching the server;
 * - `commit-then-drop`: the next statement commits, then its connection drops before the answer.
 * The last two go back to `pass` by themselves.
 */
export function lossyPool(real: Queryable, affects: RegExp = /^(?![\s\S]*void_request)/) {
  let mode: 'pass' | 'lose-answer' | 'send-late' | 'drop-once' | 'commit-then-drop' = 'pass';
  const dropped = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: undefined });
  let held: Array<() => Promise<unknown>> = [];
  const pool: Queryable = {
    query(text, params) {
      if (mode === 'pass' || !affects.test(text)) return real.query(text, params);
      if (mode === 'drop-once') {
        mode = 'pass';
        return Promise.reject(dropped());
      }
      if (mode === 'commit-then-drop') {
        mode = 'pass';
        return real.query(text, params).then(() => Promise.reject(dropped()));
      }
      if (mode === 'lose-answer') {
        const answer = real.query(text, params);
        answer.catch(() => {});
        return new Promise((resolve, reject) => {
          held.push(() => {
            answer.then(resolve, reject);
            return answer;
          });
        });
      }
      return new Promise((resolve, reject) => {
        held.push(() => {
          const late = real.query(text, params);
          late.then(resolve, reject);
          return late;
        });
      });
    },
  };
  return {
    pool,
    set(next: typeof mode) {
      mode = next;
    },
    /** Lets every held statement or answer through; settles when they all have. */
    async release(): Promise<PromiseSettledResult<unknown>[]> {
      const now = held;
      held = [];
      mode = 'pass';
      return Promise.allSettled(now.map((go) => go()));
    },
    get held() {
      return held.length;
    },
  };
}

/**
 * Runs the store's in-doubt resolver until nothing is left in doubt. One round may not finish
 * everything on a busy machine (a void that misses its deadline is tried again later); the
 * test's own timeout bounds the wait.
 */
export async function resolveAll(store: { resolveInDoubt(): Promise<number> }): Promise<void> {
  while ((await store.resolveInDoubt()) > 0) await new Promise((r) => setTimeout(r, 20));
}
