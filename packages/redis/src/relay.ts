import { randomUUID } from 'node:crypto';
import { type CounterRow, NOT_DELIVERED, type Relay, type RelayedCharge } from '@agentkey/core';
import type { Redis } from 'ioredis';
import type { Outages } from './outage.js';
import {
  CALLS_MAX,
  type Handler,
  ID,
  type Known,
  LEAD,
  LEAD_MS,
  type Leading,
  RECEIPT_MS,
  REFRESH_MS,
  RENEW_MS,
  ROW_MAX,
  remember,
  sign,
  subscribe,
  takeWaiting,
  UNLEAD,
  verified,
  type Waiting,
  WIRE,
} from './relay-wire.js';

/**
 * The Redis relay (counter/port.ts Relay in @agentkey/core; README "Hot keys across processes"). A
 * row's lead is a Redis key naming the leading process; calls, receipts and answers go by pub/sub,
 * one channel per process, each message signed (HMAC-SHA256): an answer acknowledges a charge.
 */
export class RedisRelay implements Relay {
  readonly id = randomUUID();
  /** Calls this process handed a leader, served for another process, and charged itself as nobody listened. */
  readonly stats = { forwarded: 0, served: 0, notDelivered: 0 };
  readonly #secret: string;
  private readonly known = new Map<string, Known>();
  private readonly asking = new Set<string>();
  private readonly waiting = new Map<number, Waiting>();
  /** Leaders that failed a call, by when this process may forward to them again. */
  private readonly shunned = new Map<string, number>();
  /** The highest call number run per sender (its messages arrive in order): a replay never runs. */
  private readonly heardFrom = new Map<string, number>();
  /** Calls waiting for this turn's message to their leader, by leader. */
  private readonly outbox = new Map<string, Array<{ n: number; r: string; c: RelayedCharge }>>();
  private sub: Redis | null = null;
  private listening = false;
  private closed = false;
  private seq = 0;
  private handler: Handler | null = null;

  constructor(
    private readonly redis: Redis,
    /** Every lead key and channel of this store's table starts with it. */
    private readonly base: string,
    secret: string,
    private readonly outages?: Outages, // its Redis failures are told there (outage.ts)
  ) {
    this.#secret = secret;
    const r = redis as unknown as Partial<Leading>;
    if (typeof r.akLead !== 'function') redis.defineCommand('akLead', { lua: LEAD, numberOfKeys: 1 });
    if (typeof r.akUnlead !== 'function') redis.defineCommand('akUnlead', { lua: UNLEAD, numberOfKeys: 1 });
  }

  leaderOf(row: string): string | undefined {
    const known = this.known.get(row);
    if (!known || !this.listening || this.redis.status !== 'ready') return undefined;
    const now = Date.now();
    if (known.until <= now) {
      this.known.delete(row);
      return undefined;
    }
    if (known.leader === null || (this.shunned.get(known.leader) ?? 0) > now) return undefined;
    if (known.until - now < REFRESH_MS) this.contended(row);
    return known.leader;
  }

  contended(row: string): void {
    const known = this.known.get(row);
    if (this.closed || this.asking.has(row) || row.length > ROW_MAX) return;
    if (known && known.until - Date.now() >= REFRESH_MS) return;
    this.asking.add(row);
    void this.lead(row).finally(() => this.asking.delete(row));
  }

  forward(
    leader: string,
    row: string,
    charge: RelayedCharge,
  ): Promise<CounterRow | undefined | typeof NOT_DELIVERED> {
    if (!ID.test(leader) || this.closed) return Promise.resolve(NOT_DELIVERED);
    const n = ++this.seq;
    const deadlineAt = Date.now() + charge.ttlMs;
    return new Promise((resolve, reject) => {
      const timer = this.expire(n, Math.min(RECEIPT_MS, charge.ttlMs), 'did not say it received the call');
      this.waiting.set(n, { rid: charge.rid, leader, deadlineAt, resolve, reject, timer });
      // The calls of one turn for one leader travel in one message.
      let outgoing = this.outbox.get(leader);
      if (!outgoing) {
        outgoing = [];
        this.outbox.set(leader, outgoing);
        setImmediate(() => void this.send(leader));
      }
      outgoing.push({ n, r: row, c: charge });
      this.stats.forwarded++;
      // A full message goes now; the turn's later calls start the next one.
      if (outgoing.length >= CALLS_MAX) void this.send(leader);
    });
  }

  serve(handler: Handler): void {
    this.handler = handler;
  }

  /** For good (the store closes): no more calls in, leads given up, waiting calls to their retry. */
  close(): void {
    this.closed = true;
    this.listening = false;
    this.sub?.disconnect();
    this.sub = null;
    this.outbox.clear();
    for (const n of [...this.waiting.keys()]) this.fail(n, 'the store closed');
    for (const [row, known] of this.known) if (known.leader === null) this.unlead(row);
    this.known.clear();
  }

  private channel(process: string): string {
    return `${this.base}relay:${process}`;
  }

  private expire(n: number, ms: number, why: string): ReturnType<typeof setTimeout> {
    return setTimeout(() => this.fail(n, why), Math.max(1, ms));
  }

  /** Call `n` fails (into its retry), and its leader gets no call from here for a while. */
  private fail(n: number, why: string): void {
    const waiting = takeWaiting(this.waiting, n);
    if (!waiting) return;
    this.shun(waiting.leader);
    waiting.reject(new Error(`agentkey: the process leading this key ${why}`));
  }

  /** `leader` gets no call from this process for a lead's length: the calls' retries are charged here. */
  private shun(leader: string): void {
    remember(this.shunned, leader, Date.now() + LEAD_MS);
  }

  private unlead(row: string): void {
    (this.redis as unknown as Leading).akUnlead(`${this.base}lead:${row}`, this.id).catch(() => {});
  }

  /** One message with the calls queued for `leader`; NOT_DELIVERED to each when nobody listened. */
  private async send(leader: string): Promise<void> {
    const calls = this.outbox.get(leader);
    if (!calls || this.closed) return;
    this.outbox.delete(leader);
    let received: number;
    try {
      received = await this.redis.publish(
        this.channel(leader),
        sign(this.#secret, { v: WIRE, t: 'c', f: this.id, to: leader, calls }),
      );
    } catch (error) {
      // Sent or not, nobody can tell: the callers treat their calls as in doubt.
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const call of calls) takeWaiting(this.waiting, call.n)?.reject(failure);
      this.shun(leader);
      this.outages?.relayFailed(error, 'publish of calls');
      return;
    }
    if (received > 0) return;
    // The leader is gone (its subscription with it): forget it, and the callers charge here.
    for (const call of calls) {
      const waiting = takeWaiting(this.waiting, call.n);
      if (!waiting) continue;
      this.stats.notDelivered++;
      waiting.resolve(NOT_DELIVERED);
      if (this.known.get(call.r)?.leader === leader) this.known.delete(call.r);
    }
  }

  private async lead(row: string): Promise<void> {
    try {
      if (!(await this.listen())) return;
      const [leader, ms] = await (this.redis as unknown as Leading).akLead(
        `${this.base}lead:${row}`,
        this.id,
        String(LEAD_MS),
      );
      if (this.closed && leader === this.id) this.unlead(row);
      if (this.closed || typeof leader !== 'string' || !ID.test(leader) || !(Number(ms) > 0)) return;
      const now = Date.now();
      remember(this.known, row, {
        leader: leader === this.id ? null : leader,
        until: now + Number(ms),
        renewedAt: now,
      });
    } catch (error) {
      // Redis failing: this process knows no leader, and charges its calls itself.
      this.outages?.relayFailed(error, 'lead look-up');
    }
  }

  /** Subscribes this process's channel once (relay-wire.ts subscribe). */
  private async listen(): Promise<boolean> {
    if (this.listening || this.closed) return this.listening;
    if (this.sub) return false;
    const sub = this.redis.duplicate({ lazyConnect: true });
    this.sub = sub;
    const live = () => this.sub === sub && !this.closed;
    const ok = await subscribe(
      sub,
      this.channel(this.id),
      (message) => this.heard(message),
      (up) => {
        this.listening = up && live();
      },
      (error) => this.outages?.relayFailed(error, 'subscription'),
    );
    if (!ok && this.sub === sub) this.sub = null;
    this.listening = ok && live();
    return this.listening;
  }

  private heard(message: string): void {
    const body = verified(this.#secret, message);
    if (!body) return;
    if (body.v !== WIRE) return;
    // A call message names its leader: one replayed to another process is not for it.
    if (body.t === 'c' && body.to === this.id && Array.isArray(body.calls) && body.calls.length <= CALLS_MAX)
      void this.run(body.f, body.calls);
    else if (body.t === 'r' && Array.isArray(body.ns))
      for (const n of body.ns) {
        // Received: the call now waits for its answer until its deadline.
        const waiting = Number.isSafeInteger(n) ? this.waiting.get(n as number) : undefined;
        if (!waiting) continue;
        clearTimeout(waiting.timer);
        const left = waiting.deadlineAt - Date.now();
        waiting.timer = this.expire(n as number, left, 'did not answer by the deadline');
      }
    else if (body.t === 'a' && Array.isArray(body.answers))
      for (const answer of body.answers as Array<Record<string, unknown> | null>) {
        const n = answer?.n;
        const waiting = Number.isSafeInteger(n) ? this.waiting.get(n as number) : undefined;
        // Bound to the call it answers: an answer for another request id is no answer.
        if (!waiting || answer!.rid !== waiting.rid) continue;
        if (typeof answer!.m === 'string') this.fail(n as number, `failed the charge: ${answer!.m}`);
        else
          takeWaiting(this.waiting, n as number)?.resolve(
            (answer!.row ?? undefined) as CounterRow | undefined,
          );
      }
  }

  /** Calls another process handed this one: a receipt at once, then the answers in one message. */
  private async run(from: unknown, calls: unknown[]): Promise<void> {
    const { handler } = this;
    if (!handler || this.closed || typeof from !== 'string' || !ID.test(from)) return;
    const fresh = calls.filter((call): call is Record<string, unknown> => {
      const n = (call as { n?: unknown } | null)?.n;
      if (!Number.isSafeInteger(n) || (n as number) <= (this.heardFrom.get(from) ?? 0)) return false;
      remember(this.heardFrom, from, n as number);
      return true;
    });
    if (fresh.length === 0) return;
    this.publish(from, { t: 'r', ns: fresh.map((c) => c.n) });
    const answers = await Promise.all(
      fresh.map(async ({ n, r: row, c: charge }) => {
        const rid = (charge as { rid?: unknown } | null)?.rid;
        if (typeof row !== 'string' || row.length > ROW_MAX) return { n, rid, m: 'malformed row' };
        this.stats.served++;
        try {
          const answer = (await handler(row, charge)) ?? null;
          // Only a leader that charges keeps its lead.
          this.renew(row);
          return { n, rid, row: answer };
        } catch (error) {
          return { n, rid, m: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    this.publish(from, { t: 'a', answers });
  }

  private publish(to: string, body: object): void {
    this.redis.publish(this.channel(to), sign(this.#secret, { v: WIRE, ...body })).catch((error) => {
      // Lost with Redis: the caller's receipt or answer times out and it retries.
      this.outages?.relayFailed(error, 'publish of answers');
    });
  }

  /** The leader keeps its lead while it charges the row's calls (at most every RENEW_MS). */
  private renew(row: string): void {
    const known = this.known.get(row);
    if (this.asking.has(row) || (known && Date.now() - known.renewedAt < RENEW_MS)) return;
    if (known) known.renewedAt = Date.now();
    this.asking.add(row);
    void this.lead(row).finally(() => this.asking.delete(row));
  }
}
