import type { AgentKey } from '@agentkey/core';

const DAY = 86_400_000;
/**
 * How long after a UTC day ends its spend may still change: a ledger row's `at` is the time of the
 * call that wrote it by its process's clock, not the time of the insert, and a charge the store
 * answered `unavailable` may be voided by its process's in-doubt resolver later — about an hour of
 * retries with the default deadline — with a void dated at the charge (core's void_request), and
 * never once its claim is pruned (a day; hourly). Two days covers both with room for clock skew.
 * The ledger itself is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).
 */
export const FINAL_AFTER_MS = 2 * DAY;
/** Keys whose final days one console process keeps; the least recently shown goes first. */
export const MAX_CACHED_KEYS = 1000;

interface Cached {
  /** The first day covered and the end of the covered days (ms, UTC midnights). */
  from: number;
  to: number;
  /** Spend per day with ledger rows (as `spend` reports buckets: days without rows are absent). */
  days: Map<number, number>;
}

const caches = new WeakMap<AgentKey, Map<number, Cached>>();

export const utcDay = (ms: number) => Math.floor(ms / DAY) * DAY;

/**
 * A key's spend per UTC day over the last `days` days (today included), as `ak.spend(…, { groupBy:
 * 'day' })` reports it. Days that can no longer change (FINAL_AFTER_MS) are read once and kept in
 * this process; each view reads only the days since, from the ledger's (principal_id, at) index.
 */
export async function spendByDay(
  ak: AgentKey,
  keyId: number,
  now: Date,
  days = 30,
): Promise<Array<{ start: Date; cents: number }>> {
  const from = utcDay(now.getTime()) - (days - 1) * DAY;
  const final = Math.max(from, utcDay(now.getTime() - FINAL_AFTER_MS));
  const keys = caches.get(ak) ?? new Map<number, Cached>();
  caches.set(ak, keys);
  let cached = keys.get(keyId);
  // None yet, or no longer adjoining the range (a clock moved back, or unseen for a month): anew.
  if (!cached || cached.from > from || cached.to < from) cached = { from, to: from, days: new Map() };
  const target = { keyId };
  const [closed, live] = await Promise.all([
    cached.to < final
      ? ak.spend(target, { from: new Date(cached.to), to: new Date(final), groupBy: 'day' })
      : null,
    ak.spend(target, { from: new Date(final), to: now, groupBy: 'day' }),
  ]);
  if (closed) {
    for (const b of closed.buckets ?? []) cached.days.set(b.start.getTime(), b.cents);
    cached.to = final;
  }
  for (const day of cached.days.keys()) if (day < from) cached.days.delete(day);
  cached.from = from;
  // Most recently shown last: the first entry is the one to evict.
  keys.delete(keyId);
  keys.set(keyId, cached);
  if (keys.size > MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as number);
  const finalDays = [...cached.days]
    .filter(([day]) => day < final)
    .sort(([a], [b]) => a - b)
    .map(([day, cents]) => ({ start: new Date(day), cents }));
  return [...finalDays, ...(live.buckets ?? [])];
}
