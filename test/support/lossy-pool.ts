import type { Queryable } from '@agentkey/core';

/**
 * A pool in front of a real one that can lose answers the way a frozen server or a cut network
 * does, for the request path's statements (the resolver's `void_request` and anything else not
 * matching `affects` always pass):
 * - `lose-answer`: the statement runs and commits, but its answer is held back until `release()`;
 * - `send-late`: the statement itself is held back, and reaches the server at `release()` —
 *   as a query still queued in a pool, or a frozen server resuming, does.
 */
export function lossyPool(real: Queryable, affects: RegExp = /^(?![\s\S]*void_request)/) {
  let mode: 'pass' | 'lose-answer' | 'send-late' = 'pass';
  let held: Array<() => Promise<unknown>> = [];
  const pool: Queryable = {
    query(text, params) {
      if (mode === 'pass' || !affects.test(text)) return real.query(text, params);
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
