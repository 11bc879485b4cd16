import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CounterRow, NOT_DELIVERED } from '@agentkey/core';
import type { Cluster, Redis } from 'ioredis';

/** How long a lead lasts without the leader charging a call on the row (ms). */
export const LEAD_MS = 1000;
/** A leader renews its lead at most this often while it charges the row's calls. */
export const RENEW_MS = 250;
/** A follower asks again who leads when its knowledge has less than this left. */
export const REFRESH_MS = 300;
/**
 * How long a call waits for its leader to say it received it (the leader does so before running
 * it). Past it, or past the call's deadline once received, or on an error answer, the call fails
 * into the store's retry (in-doubt.ts guarded) under the same request id, and this process stops
 * forwarding to that leader for LEAD_MS: the retry is charged here. A charge the leader did commit
 * makes that retry conflict on its claim (answered unavailable, then voided): never charged twice.
 */
export const RECEIPT_MS = 1000;
/** The messages' format: a process of another version ignores them (its calls then go to their retry). */
export const WIRE = 1;
/** Rows whose leader a process remembers, and calls it remembers serving (oldest dropped first). */
export const REMEMBERED = 10_000;
export const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A lead key's row: a key hash, a subject or an account, as the store names it (at most this long). */
export const ROW_MAX = 1100;
/** Calls one message may carry (a process sends one message per leader per turn). */
export const CALLS_MAX = 1024;

export type Leading = {
  akLead(key: string, id: string, ms: string): Promise<[string, number]>;
  akUnlead(key: string, id: string): Promise<number>;
};

/**
 * `map` with `key` set, holding at most `max`: when a new key would pass it, the oldest entries go,
 * a sixteenth of `max` at once. A Map keeps deleted entries' slots until it rehashes and every new
 * iterator walks them again, so dropping one per insert cost microseconds a call once keys churned
 * (core's authorize/ttl-cache.ts measured 8.5 µs at 10,000 entries); one pass per sixteenth does not.
 */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max = REMEMBERED): void {
  if (map.size >= max && !map.has(key)) {
    const keep = max - 1 - Math.floor(max / 16);
    for (const old of map.keys()) {
      if (map.size <= keep) break;
      map.delete(old);
    }
  }
  map.set(key, value);
}

/** A connect that neither succeeds nor fails by then (ioredis can leave one pending for ever) failed. */
export const CONNECT_MS = 10_000;

/** `sub.connect()`, failed past CONNECT_MS. */
function connectWithin(sub: Redis | Cluster): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${CONNECT_MS} ms`)), CONNECT_MS);
    timer.unref?.();
  });
  return Promise.race([sub.connect(), late]).finally(() => clearTimeout(timer));
}

/**
 * Connects `sub` (a duplicate of the client, whatever its lazyConnect or offline-queue options:
 * `enableOfflineQueue: false` refuses a command sent before the connection is up) and subscribes
 * it to `channel`; `state` hears it go down and come back (ioredis subscribes again on reconnect
 * before 'ready'). The connection never keeps the process alive by itself. False: failed, and
 * disconnected (`failed` hears why). The relay's channel and the changes feed's.
 */
export async function subscribe(
  sub: Redis | Cluster,
  channel: string,
  heard: (message: string) => void,
  state: (up: boolean) => void,
  failed: (error: unknown) => void = () => {},
): Promise<boolean> {
  const unref = () => (sub as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();
  sub.on('connect', unref);
  sub.on('error', () => {});
  sub.on('close', () => state(false));
  sub.on('ready', () => state(true));
  sub.on('message', (_channel: string, message: string) => heard(message));
  try {
    await connectWithin(sub);
    await sub.subscribe(channel);
    unref();
    return true;
  } catch (error) {
    sub.disconnect();
    failed(error);
    return false;
  }
}

/** KEYS[1] the row's lead. ARGV: this process, lead ms. The leader and its lead's ms left. */
export const LEAD = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {ARGV[1], tonumber(ARGV[2])}
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {cur, tonumber(ARGV[2])}
end
return {cur, redis.call('PTTL', KEYS[1])}
`;

/** KEYS[1] a row's lead. ARGV[1] this process: gives the lead up, only if this process holds it. */
export const UNLEAD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** A message as it travels: the HMAC-SHA256 of its JSON under the secret, a dot, the JSON. */
export function sign(secret: string, body: object): string {
  const text = JSON.stringify(body);
  return `${createHmac('sha256', secret).update(text).digest('base64url')}.${text}`;
}

/** The message's body when its signature is `secret`'s (compared in constant time); else null. */
export function verified(secret: string, message: string): Record<string, unknown> | null {
  const dot = message.indexOf('.');
  if (dot <= 0) return null;
  const text = message.slice(dot + 1);
  const given = Buffer.from(message.slice(0, dot), 'base64url');
  const wanted = createHmac('sha256', secret).update(text).digest();
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return null;
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export interface Known {
  /** null: this process leads the row. */
  leader: string | null;
  until: number;
  renewedAt: number;
}

export interface Waiting {
  rid: string;
  leader: string;
  deadlineAt: number;
  resolve: (row: CounterRow | undefined | typeof NOT_DELIVERED) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export type Handler = (row: string, charge: unknown) => Promise<CounterRow | undefined>;

/** Call `n`'s wait, taken off `waiting` with its timer stopped (undefined: it is not waiting). */
export function takeWaiting(waiting: Map<number, Waiting>, n: number): Waiting | undefined {
  const found = waiting.get(n);
  if (found) {
    clearTimeout(found.timer);
    waiting.delete(n);
  }
  return found;
}
