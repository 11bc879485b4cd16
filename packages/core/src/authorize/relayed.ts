import type { ChargeRequest, Lookup } from '../context.js';
import type { RelayedCharge } from '../counter/port.js';
import { isAskedScope } from '../input/values.js';

const RID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A lookup value longer than this is no key hash or subject the store would have accepted. */
const MAX_VALUE = 1024;
/** A store's deadline is at most a minute (its timeoutMs): anything longer is no call of ours. */
const MAX_TTL_MS = 60_000;

/** Time kept for the hop back: a call with less than twice this left is charged where it is. */
export const RELAY_MARGIN_MS = 25;

/** A lean charge as a relay carries it to the process leading its row. */
export function toRelayed(lookup: Lookup, now: Date, r: ChargeRequest): RelayedCharge {
  return {
    by: lookup.by,
    value: lookup.value,
    rid: r.rid,
    nowMs: now.getTime(),
    // The leader gives up a little before the caller does: its answer never lands after the caller's void.
    ttlMs: r.deadlineAt - Date.now() - RELAY_MARGIN_MS,
    micros: r.micros,
    scope: r.scope,
    tokenGrants: r.tokenGrants,
  };
}

export interface ServedCharge {
  lookup: Lookup;
  now: Date;
  request: ChargeRequest;
}

/**
 * A charge another process forwarded, checked field by field (it crossed Redis, which the store does
 * not trust with more than a mirror): the call to run, or null when any field is not what
 * `toRelayed` makes. Only lean charges travel, so the rest of the request is fixed.
 */
export function fromRelayed(charge: unknown): ServedCharge | null {
  if (!charge || typeof charge !== 'object') return null;
  const c = charge as Record<string, unknown>;
  const { by, value, rid, nowMs, ttlMs, micros, scope, tokenGrants } = c;
  if (by !== 'key_hash' && by !== 'external_subject') return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_VALUE) return null;
  if (typeof rid !== 'string' || !RID.test(rid)) return null;
  if (!Number.isSafeInteger(nowMs)) return null;
  if (!Number.isSafeInteger(ttlMs) || (ttlMs as number) <= 0 || (ttlMs as number) > MAX_TTL_MS) return null;
  if (!Number.isSafeInteger(micros) || (micros as number) <= 0) return null;
  if (scope !== null && !isAskedScope(scope)) return null;
  if (typeof tokenGrants !== 'boolean') return null;
  return {
    lookup: { by, value },
    now: new Date(nowMs as number),
    request: {
      op: 'authorize',
      micros: micros as number,
      holdMicros: 0,
      holdTtlMs: 0,
      scope: scope as string | null,
      tokenGrants,
      tokenExpiresMs: null,
      idem: null,
      meta: null,
      rid,
      deadlineAt: Date.now() + (ttlMs as number),
    },
  };
}
