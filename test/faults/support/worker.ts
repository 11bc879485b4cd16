/**
 * One worker process of the fault suite (test/faults/faults.test.ts): charges one key without an
 * idempotency key, another with fresh ones (retrying a key after `unavailable`, as a client
 * would), and opens and settles holds on a third, from a few concurrent loops, until the file
 * `STOP` exists.
 * Every answer goes to `OUT` as a JSON line. Then it lets its in-doubt resolver finish and exits.
 *
 * Env: URL, TABLE, KEYS (JSON { lean, keyed, holds }), OUT, STOP (a path), NAME, TIMEOUT (ms), POOL
 * (`default`: `new pg.Pool({ connectionString })`, else the README's recommended settings).
 */
import { appendFileSync, existsSync } from 'node:fs';
import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`worker: ${name} is not set`);
  return value;
};
const keys = JSON.parse(env('KEYS')) as { lean: string; keyed: string; holds: string };
const stopFile = env('STOP');
const running = () => !existsSync(stopFile);
const name = env('NAME');
const TIMEOUT_MS = Number(env('TIMEOUT'));

const pool =
  process.env.POOL === 'default'
    ? new pg.Pool({ connectionString: env('URL') })
    : new pg.Pool({
        connectionString: env('URL'),
        max: 4,
        connectionTimeoutMillis: 2000,
        query_timeout: 5000,
        idleTimeoutMillis: 10_000,
      });
let poolErrors = 0;
const ak = new AgentKey({
  pool,
  tableName: env('TABLE'),
  timeoutMs: TIMEOUT_MS,
  onError: () => {
    poolErrors++;
  },
});

const record = (line: Record<string, unknown>) => appendFileSync(env('OUT'), `${JSON.stringify(line)}\n`);
const timed = async <T extends { ok: boolean; error?: { code: string } }>(
  op: string,
  call: () => Promise<T>,
) => {
  const t = Date.now();
  const r = await call();
  record({ op, t, ms: Date.now() - t, ok: r.ok, code: r.ok ? null : r.error!.code });
  return r;
};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function lean() {
  while (running()) {
    const r = await timed('lean', () => ak.authorize(keys.lean, { costCents: 1 }));
    if (!r.ok) await pause(20);
  }
}

async function keyed(loop: number) {
  for (let n = 0; running(); n++) {
    const idempotencyKey = `${name}-${loop}-${n}`;
    // A client retries its key after `unavailable`: a commit whose answer was lost is replayed
    // (or was voided, and the retry charges afresh), never charged twice.
    for (let attempt = 0; attempt < 3; attempt++) {
      const t = Date.now();
      const r = await ak.authorize(keys.keyed, { costCents: 1, idempotencyKey });
      record({
        op: 'keyed',
        t,
        ms: Date.now() - t,
        ok: r.ok,
        code: r.ok ? null : r.error.code,
        idempotencyKey,
      });
      if (r.ok || r.error.code !== 'unavailable') break;
      await pause(50);
    }
  }
}

async function holds() {
  while (running()) {
    const t = Date.now();
    const r = await ak.reserve(keys.holds, { maxCents: 2, ttl: '1h' });
    record({
      op: 'reserve',
      t,
      ms: Date.now() - t,
      ok: r.ok,
      code: r.ok ? null : r.error.code,
      hold: r.ok ? r.hold!.id : null,
    });
    if (!r.ok) {
      await pause(20);
      continue;
    }
    const s = await timed('settle', () => ak.settle(r.hold!.id, { costCents: 1 }));
    if (!s.ok) await timed('release', () => ak.release(r.hold!.id));
  }
}

await Promise.all([lean(), lean(), keyed(0), keyed(1), holds(), holds()]);
// Resolve what is in doubt once the database answers again (bounded: 30 s).
let pending = await ak.resolveInDoubt();
for (let i = 0; pending > 0 && i < 120; i++) {
  await pause(250);
  pending = await ak.resolveInDoubt();
}
record({ op: 'done', pending, poolErrors });
await pool.end().catch(() => {});
process.exit(0);
