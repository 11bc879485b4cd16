import type { StoreContext } from '../context.js';
import { inTime } from '../db/deadline.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { checkRateLimit } from '../input/rate-limit.js';
import { engineNames } from '../sql/names.js';
import { lockBound } from '../sql/requests.js';

/** A named limiter's answer: counted, or refused with the seconds until its window resets. */
export type RateWindowDecision = { ok: true } | { ok: false; retryAfterSec: number };

/** Printable ASCII without controls, as the bucket of a named limiter (client addresses fit). */
const BUCKET = /^[\x20-\x7e]{1,512}$/;

/**
 * `rateLimitHit`: counts one call in the named window `bucket` (the /signup limiter's
 * `signup|…|<client>`) unless it already admitted `requests` calls — the rule of the keys' rate
 * limits (sql/rate-rules.ts), on a row of the rate-windows table locked for the decision, so every
 * process shares one count. Bounded by the store's timeoutMs (its lock wait on the server too); a
 * failure rejects and counts nothing.
 */
export async function hitRateWindow(
  ctx: StoreContext,
  bucket: string,
  limit: { requests: number; windowSec?: number },
): Promise<RateWindowDecision> {
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) {
    throw new AgentKeyInputError('bucket must be 1-512 printable ASCII characters', 'bucket');
  }
  const checked = checkRateLimit(limit);
  if (!checked || checked.requests === null || checked.cents !== null) {
    throw new AgentKeyInputError('rateLimit must be { requests, windowSec? }', 'rateLimit');
  }
  // The bucket's row-lock wait is bounded on the server by the same deadline (sql/requests.ts
  // lockBound): a call answered with a failure leaves no statement queued to count it later. The
  // bucket argument reads the bound, so lock_timeout is set before the function runs.
  const bound = lockBound(ctx.timeoutMs);
  const { rows } = await inTime(
    ctx.pool.query(
      `WITH ${bound.cte} SELECT ok, reset_sec FROM ${engineNames(ctx.tables).fn('rate_hit')}(
        CASE WHEN ${bound.guard} THEN $1::text END, $2::timestamptz, $3::integer, $4::integer)`,
      [bucket, ctx.now(), checked.requests, checked.windowSec],
    ),
    ctx.timeoutMs,
  );
  const row = rows[0] as { ok: boolean; reset_sec: number };
  return row.ok ? { ok: true } : { ok: false, retryAfterSec: Number(row.reset_sec) };
}
