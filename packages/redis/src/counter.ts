import {
  AgentKeyInputError,
  type Counter,
  type CounterAdmission,
  type CounterCall,
  type CounterInvalidation,
  type CounterRow,
  type CounterTarget,
  type StoreReporter,
} from '@agentkey/core';
import type { Cluster, Redis } from 'ioredis';
import { AdmitQueue } from './admits.js';
import { callKeys, relayBase, tagKeys } from './keys.js';
import { knownOptions, type RedisCounterOptions, whole } from './options.js';
import { ignore, Outages } from './outage.js';
import type { RedisRelay } from './relay.js';
import { relayMaker, withHiddenSecret } from './relay-option.js';
import { remember } from './relay-wire.js';
import {
  type Place,
  type Reservation,
  reservationArgs,
  type Scripted,
  type Seen,
  UNSEEN,
} from './reservation.js';
import { buildOf, refusalRow } from './rows.js';
import { ADMIT, SETTLE } from './script.js';
import { ADMIT_MANY, SETTLE_MANY } from './script-many.js';
import { ABANDON, INVALIDATE } from './script-void.js';
import { SettleQueue } from './settles.js';

export type { RedisCounterOptions } from './options.js';

const PLACES_MAX = 100_000;
/** A client still making its first connection this long after the counter was made is not an outage. */
const STARTING_MS = 5000;
const NOT_ASKED = Symbol('not asked');

/**
 * The write-through counter on Redis (counter/port.ts in @agentkey/core): admission in one Lua
 * script per call (coalesced: admits.ts), PostgreSQL's answer folded back, refusals answered from a mirror trusted at the current generation. Redis down, slow or erroring sends calls to the
 * PostgreSQL path at once; see README.md for what each failure does.
 */
export class RedisCounter implements Counter {
  private readonly redis: Redis | Cluster;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly trustMs: number;
  private readonly retryMs: number;
  private readonly options: RedisCounterOptions;
  /** The store's table (bind): every mirror key carries it ('' unbound). */
  private readonly table: string;
  private readonly bound = new Map<string, RedisCounter>();
  private readonly places = new Map<string, Place>();
  private readonly accountsByKey = new Map<number, string>();
  private readonly accountsBySubject = new Map<string, string>();
  private readonly reservations = new WeakMap<CounterCall, Reservation>();
  private readonly seen = new WeakMap<CounterCall, Seen>(); // SETTLE builds only while it holds
  /** Mirrors built before this (Redis ms) are not trusted: this process lost Redis since. */
  private builtAfter = -1;
  private downUntil = 0;
  private readonly startingUntil = Date.now() + STARTING_MS;
  private readonly settles: SettleQueue;
  private readonly admits: AdmitQueue;
  private readonly outages = new Outages(); // the bound stores' onError (outage.ts)
  readonly unbind = (report: StoreReporter): void => this.outages.remove(report); // its store closed
  /** A new relay for this table (options.relay); null when off or on a Cluster. */
  readonly relay: () => RedisRelay | null;

  constructor(options: RedisCounterOptions, table = '') {
    if (!options || typeof options !== 'object')
      throw new AgentKeyInputError('redisCounter options must be an object', 'options');
    if (typeof table !== 'string' || table.length > 200)
      throw new AgentKeyInputError('table must be a table name of at most 200 characters', 'table');
    knownOptions(options, ['redis', 'prefix', 'timeoutMs', 'trustMs', 'retryMs', 'relay'], 'redisCounter');
    this.options = withHiddenSecret(options);
    this.table = table;
    const redis = options.redis as unknown as Record<string, unknown> | undefined;
    if (!redis || typeof redis.defineCommand !== 'function' || typeof redis.evalsha !== 'function')
      throw new AgentKeyInputError('redis must be an ioredis Redis or Cluster client', 'redis');
    const prefix = options.prefix === undefined ? 'agentkey:' : options.prefix;
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9:_.-]{0,64}$/.test(prefix)) {
      throw new AgentKeyInputError('prefix must be at most 64 letters, digits or :_-.', 'prefix');
    }
    this.redis = options.redis;
    this.prefix = prefix;
    this.timeoutMs = whole(options.timeoutMs, 'timeoutMs', 250, 5, 10_000);
    this.relay = relayMaker(this.options, relayBase(prefix, table), this.outages);
    this.trustMs = whole(options.trustMs, 'trustMs', 1000, 50, 60_000);
    this.retryMs = whole(options.retryMs, 'retryMs', 500, 0, 60_000);
    const define = (name: string, lua: string, numberOfKeys?: number) => {
      // A command already defined by another counter on this client has the same script.
      if (typeof (this.redis as unknown as Record<string, unknown>)[name] !== 'function')
        this.redis.defineCommand(name, { lua, numberOfKeys });
    };
    define('akAdmit', ADMIT, 7);
    define('akAdmitMany', ADMIT_MANY); // its key count first: one batch of admissions (admits.ts)
    define('akSettle', SETTLE, 7);
    define('akSettleMany', SETTLE_MANY); // its key count first: one batch of settles (settles.ts)
    const cluster = (this.redis as unknown as { isCluster?: boolean }).isCluster === true;
    this.settles = new SettleQueue(cluster, (args, many) =>
      this.ask((r) => (many ? r.akSettleMany(...args) : r.akSettle(...args))),
    );
    this.admits = new AdmitQueue(
      cluster,
      (args, many) => this.ask<unknown>((r) => (many ? r.akAdmitMany(...args) : r.akAdmit(...args))),
      () => this.settles.flush(),
    );
    define('akAbandon', ABANDON, 7);
    define('akInvalidate', INVALIDATE, 1);
  }

  /**
   * The counter of one store's table (`AgentKey` binds its counter to its `tableName`): two stores
   * on one Redis with other tables never share a mirror (key ids and accounts repeat across tables).
   */
  bind(table: string, report?: StoreReporter): RedisCounter {
    let bound = table === this.table ? this : this.bound.get(table);
    if (!bound) {
      bound = new RedisCounter(this.options, table);
      this.bound.set(table, bound);
    }
    bound.outages.add(report);
    return bound;
  }

  async admit(call: CounterCall): Promise<CounterAdmission> {
    const started = Date.now();
    const place = this.places.get(`${call.by}:${call.value}`);
    if (!place) return { kind: 'unknown' };
    // Coalesced (admits.ts); the trust it asks for is the counter's when its batch is sent.
    const reply = await this.admits.add(place.tag.generation, () => [
      ...callKeys(place.tag, place.keyId, place.poolId),
      String(call.nowMs),
      String(call.micros + call.holdMicros),
      call.scope ?? '',
      call.tokenGrants ? '1' : '0',
      call.idempotent ? '1' : '0',
      call.rid,
      String(Math.max(1, Math.ceil(call.ttlMs))),
      String(this.builtAfter),
      place.poolId === null ? '' : String(place.poolId),
    ]);
    if (!Array.isArray(reply)) return { kind: 'unknown' };
    if (reply[0] === 'X') return { kind: 'refused', row: refusalRow(reply, place.poolId) };
    // Seen late (past a quarter of the call's deadline), the store may have stopped waiting and
    // read the row already: then what Redis saw is no older than the row, and vouches for nothing.
    const at = reply[0] === 'R' ? 4 : 2;
    if (Date.now() - started <= call.ttlMs / 4)
      this.seen.set(call, [place.tag.generation, String(reply[at] ?? ''), String(reply[at + 1] ?? '')]);
    if (reply[0] === 'R') {
      this.reservations.set(call, { place, serials: [reply[1] ?? '', reply[2] ?? '', reply[3] ?? ''] });
      return { kind: 'reserved' };
    }
    // Redis is back after a failure: trust only what is rebuilt from now on (Redis's clock).
    if (reply[1]) this.builtAfter = Number(reply[1]);
    return { kind: 'unknown' };
  }

  async settle(call: CounterCall, reserved: boolean, row: CounterRow | undefined): Promise<void> {
    const reservation = reserved ? this.reservations.get(call) : undefined;
    const seen = this.seen.get(call);
    this.reservations.delete(call);
    this.seen.delete(call);
    const place = row && row.outcome !== 'unknown' ? this.learn(call, row) : null;
    if (!place || !row) {
      this.places.delete(`${call.by}:${call.value}`);
      if (reservation) await this.abandonReservation(call, reservation);
      return;
    }
    if (reservation && reservation.place.tag.generation !== place.tag.generation) {
      // The key moved to another account: its old mirror goes, the new one is built.
      await this.abandonReservation(call, reservation);
    }
    const same = reservation && reservation.place.tag.generation === place.tag.generation;
    const ok = row.outcome === 'ok';
    const replayed = row.replayed === true;
    const charged = ok && !replayed ? Math.round(Number(row.charged_micros ?? call.micros)) : 0;
    const held =
      ok && !replayed && row.hold_id !== null && row.hold_id !== undefined
        ? Math.round(Number(row.hold_amount_micros ?? call.holdMicros))
        : 0;
    // A miss is rebuilt from PostgreSQL's row; so is a mirror that admitted what PostgreSQL refused.
    const rebuild = !same || !ok;
    const build = rebuild ? buildOf(row, call.nowMs) : { key: '', pool: '', account: '' };
    const serials = same ? reservation.serials : ['', '', ''];
    await this.settles.add(place.tag.generation, [
      ...reservationArgs(call, place, serials),
      ok ? '1' : '0',
      String(charged),
      String(held),
      rebuild ? '1' : '0',
      String(this.trustMs),
      build.key,
      build.pool,
      build.account,
      String(Math.round(Number(row.hold_expires_at ?? call.nowMs))),
      // Seen on another tag (the key moved account meanwhile) is not seen: no build vouched for.
      ...(seen && seen[0] === place.tag.generation ? seen : UNSEEN).slice(1),
      same ? '1' : '',
    ]);
  }

  async abandon(call: CounterCall, reserved: boolean): Promise<void> {
    const reservation = reserved ? this.reservations.get(call) : undefined;
    this.reservations.delete(call);
    this.seen.delete(call);
    const place = reservation?.place ?? this.places.get(`${call.by}:${call.value}`);
    if (place) await this.abandonReservation(call, reservation ?? { place, serials: ['', '', ''] });
  }

  async invalidate(target: CounterTarget, options?: CounterInvalidation): Promise<void> {
    const account =
      'accountId' in target
        ? target.accountId
        : 'keyId' in target
          ? this.accountsByKey.get(target.keyId)
          : 'subject' in target
            ? this.accountsBySubject.get(target.subject)
            : undefined;
    this.settles.flush();
    if (account !== undefined) {
      const done = await this.ask((r) =>
        r.akInvalidate(tagKeys(this.prefix, account, this.table).generation),
      );
      if (done !== NOT_ASKED) return;
    }
    // Another process's change to a row this one never served: that process untrusted its mirrors.
    if (account === undefined && options?.onlyIfKnown) return;
    // A row this process never saw, or Redis unreachable: trust nothing built before now.
    this.builtAfter = -1;
  }

  private async abandonReservation(call: CounterCall, { place, serials }: Reservation): Promise<void> {
    await this.ask((r) => r.akAbandon(...reservationArgs(call, place, serials)));
  }

  /** Where PostgreSQL says the row lives, remembered for the next call on this lookup. */
  private learn(call: CounterCall, row: CounterRow): Place | null {
    if (row.account_id === null || row.account_id === undefined || !Number.isSafeInteger(row.id)) return null;
    const lookup = `${call.by}:${call.value}`;
    const poolId = row.pool_id === null || row.pool_id === undefined ? null : Number(row.pool_id);
    const known = this.places.get(lookup);
    if (known && known.account === row.account_id && known.keyId === row.id && known.poolId === poolId)
      return known;
    const place = {
      account: row.account_id,
      tag: tagKeys(this.prefix, row.account_id, this.table),
      keyId: row.id,
      poolId,
    };
    remember(this.places, lookup, place, PLACES_MAX);
    if (this.accountsByKey.size >= PLACES_MAX) this.accountsByKey.clear();
    this.accountsByKey.set(row.id, row.account_id);
    if (row.external_subject) {
      if (this.accountsBySubject.size >= PLACES_MAX) this.accountsBySubject.clear();
      this.accountsBySubject.set(row.external_subject, row.account_id);
    }
    return place;
  }

  /**
   * One Redis call under `timeoutMs`. Failed or late: Redis is skipped for `retryMs` (calls go to
   * PostgreSQL), every mirror built so far is untrusted, and the stores' onError is told. */
  private async ask<T>(work: (r: Scripted) => Promise<T>): Promise<T | typeof NOT_ASKED> {
    const startedAt = Date.now();
    if (startedAt < this.downUntil) return NOT_ASKED;
    // Still connecting at start, and enableOfflineQueue: false would refuse the command: PostgreSQL's
    // call, trusting nothing built before, but no outage to tell (a failed attempt is 'reconnecting').
    const { status, options } = this.redis as { status?: string; options?: { enableOfflineQueue?: boolean } };
    const refusing =
      options?.enableOfflineQueue === false && (status === 'connecting' || status === 'connect');
    if (startedAt < this.startingUntil && refusing) {
      this.builtAfter = -1;
      return NOT_ASKED;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('agentkey redis: no answer in time')), this.timeoutMs);
      });
      const running = work(this.redis as unknown as Scripted);
      running.then(() => this.outages.answered(startedAt), ignore);
      return await Promise.race([running, late]);
    } catch (error) {
      this.downUntil = Date.now() + this.retryMs;
      this.builtAfter = -1;
      this.outages.failed(error, this.timeoutMs, this.retryMs);
      return NOT_ASKED;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `new AgentKey({ pool, counter: redisCounter({ redis }) })`. */
export function redisCounter(options: RedisCounterOptions): RedisCounter {
  return new RedisCounter(options);
}
