import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { type CounterRow, NOT_DELIVERED, type Relay, type RelayedCharge } from '@agentkey/core';
import type { Redis } from 'ioredis';

/** How long a lead lasts without the leader serving a call on the row (ms). */
export const LEAD_MS = 1000;
/** A leader renews its lead at most this often while it serves the row. */
const RENEW_MS = 250;
/** A follower asks again who leads when its knowledge has less than this left. */
const REFRESH_MS = 300;
/**
 * How long a call waits for its leader's answer at most. Past it the call fails and the store
 * tries it once more (in-doubt.ts guarded) under the same request id: a leader that died or lost
 * its answer to Redis costs the call this long, not its whole deadline, and a charge the leader
 * did commit makes the second attempt conflict on its claim, never charge twice.
 */
export const ANSWER_MS = 1000;
/** Rows whose leader a process remembers at most (oldest dropped first). */
const ROWS_MAX = 10_000;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A lead key's row: a key hash, a subject or an account, as the store names it (at most this long). */
const ROW_MAX = 1100;
/** Calls one message may carry (a process sends one message per leader per turn). */
const CALLS_MAX = 1024;

/** KEYS[1] the row's lead. ARGV: this process, lead ms. The leader and its lead's ms left. */
const LEAD = `
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

interface Known {
  /** null: this process leads the row. */
  leader: string | null;
  until: number;
  renewedAt: number;
}

interface Waiting {
  rid: string;
  resolve: (row: CounterRow | undefined | typeof NOT_DELIVERED) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Leading = { akLead(key: string, id: string, ms: string): Promise<[string, number]> };

/**
 * The Redis relay (counter/port.ts Relay in @agentkey/core). A row's lead is a Redis key holding
 * the leading process's id, taken by the first process to find the row contended and kept while it
 * serves calls on it. Calls and answers travel by pub/sub, one channel per process, each message
 * signed with the shared `secret` (HMAC-SHA256): an answer is what acknowledges a charge, so one
 * that anybody with access to Redis could write would be a way around PostgreSQL. A call nobody
 * received (PUBLISH reached no subscriber) is NOT_DELIVERED and the caller charges it itself; one
 * received but not answered by its deadline is in doubt, as any lost answer.
 */
export class RedisRelay implements Relay {
  readonly id = randomUUID();
  /** Calls this process handed a leader, served for another process, and charged itself as nobody listened. */
  readonly stats = { forwarded: 0, served: 0, notDelivered: 0 };
  private readonly known = new Map<string, Known>();
  private readonly asking = new Set<string>();
  private readonly waiting = new Map<number, Waiting>();
  /** Calls waiting for this turn's message to their leader, by leader. */
  private readonly outbox = new Map<string, Array<{ n: number; r: string; c: RelayedCharge }>>();
  private sub: Redis | null = null;
  private listening = false;
  private seq = 0;
  private handler: ((row: string, charge: unknown) => Promise<CounterRow | undefined>) | null = null;

  constructor(
    private readonly redis: Redis,
    /** Every lead key and channel of this store's table starts with it. */
    private readonly base: string,
    private readonly secret: string,
    private readonly report: (error: unknown) => void = () => {},
  ) {
    if (typeof (redis as unknown as Leading).akLead !== 'function')
      redis.defineCommand('akLead', { lua: LEAD, numberOfKeys: 1 });
  }

  leaderOf(row: string): string | undefined {
    const known = this.known.get(row);
    if (!known || !this.listening || this.redis.status !== 'ready') return undefined;
    const now = Date.now();
    if (known.until <= now) {
      this.known.delete(row);
      return undefined;
    }
    if (known.leader === null) return undefined;
    if (known.until - now < REFRESH_MS) this.contended(row);
    return known.leader;
  }

  contended(row: string): void {
    if (this.asking.has(row) || row.length > ROW_MAX) return;
    const known = this.known.get(row);
    if (known && known.until - Date.now() >= REFRESH_MS) return;
    this.asking.add(row);
    void this.lead(row).finally(() => this.asking.delete(row));
  }

  forward(
    leader: string,
    row: string,
    charge: RelayedCharge,
  ): Promise<CounterRow | undefined | typeof NOT_DELIVERED> {
    if (!ID.test(leader)) return Promise.resolve(NOT_DELIVERED);
    const n = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiting.delete(n);
          reject(new Error('agentkey: the process leading this key did not answer in time'));
        },
        Math.max(1, Math.min(ANSWER_MS, charge.deadlineAt - Date.now())),
      );
      this.waiting.set(n, { rid: charge.rid, resolve, reject, timer });
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

  /** One message with the calls queued for `leader`; NOT_DELIVERED to each when nobody listened. */
  private async send(leader: string): Promise<void> {
    const calls = this.outbox.get(leader);
    if (!calls) return;
    this.outbox.delete(leader);
    let received: number;
    try {
      received = await this.redis.publish(this.channel(leader), this.sign({ t: 'c', f: this.id, calls }));
    } catch (error) {
      // Sent or not, nobody can tell: the callers treat their calls as in doubt.
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const call of calls) this.settle(call.n)?.reject(failure);
      return;
    }
    if (received > 0) return;
    // The leader is gone (its subscription with it): forget it, and the callers charge here.
    for (const call of calls) {
      this.stats.notDelivered++;
      this.settle(call.n)?.resolve(NOT_DELIVERED);
      if (this.known.get(call.r)?.leader === leader) this.known.delete(call.r);
    }
  }

  serve(handler: (row: string, charge: unknown) => Promise<CounterRow | undefined>): void {
    this.handler = handler;
  }

  /** Stops listening (the store closes): no process can hand this one a call any more. */
  close(): void {
    this.listening = false;
    this.sub?.disconnect();
    this.sub = null;
  }

  private channel(process: string): string {
    return `${this.base}relay:${process}`;
  }

  private async lead(row: string): Promise<void> {
    try {
      if (!(await this.listen())) return;
      const [leader, ms] = await (this.redis as unknown as Leading).akLead(
        `${this.base}lead:${row}`,
        this.id,
        String(LEAD_MS),
      );
      if (typeof leader !== 'string' || !ID.test(leader) || !(Number(ms) > 0)) return;
      if (this.known.size >= ROWS_MAX) this.known.delete(this.known.keys().next().value as string);
      const now = Date.now();
      this.known.set(row, {
        leader: leader === this.id ? null : leader,
        until: now + Number(ms),
        renewedAt: now,
      });
    } catch (error) {
      this.report(error);
    }
  }

  /** Subscribes this process's channel once (a duplicate connection: a subscriber can do nothing else). */
  private async listen(): Promise<boolean> {
    if (this.listening) return true;
    if (this.sub) return false;
    // Connected here whatever the client's own options (lazyConnect, no offline queue).
    const sub = this.redis.duplicate({ lazyConnect: true });
    this.sub = sub;
    // The subscription never keeps the process alive by itself (it reconnects with a new socket).
    const unref = () => (sub as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();
    sub.on('connect', unref);
    sub.on('error', (error: unknown) => this.report(error));
    sub.on('close', () => {
      this.listening = false;
    });
    sub.on('ready', () => {
      // ioredis subscribes again on reconnect before 'ready'.
      if (this.sub === sub) this.listening = true;
    });
    sub.on('message', (_channel: string, message: string) => this.heard(message));
    try {
      await sub.connect();
      await sub.subscribe(this.channel(this.id));
      unref();
      this.listening = this.sub === sub;
    } catch (error) {
      this.report(error);
      sub.disconnect();
      this.sub = null;
    }
    return this.listening;
  }

  private sign(body: object): string {
    const text = JSON.stringify(body);
    return `${createHmac('sha256', this.secret).update(text).digest('base64url')}.${text}`;
  }

  /** The message's body when its signature is this relay's secret's; else null. */
  private verified(message: string): Record<string, unknown> | null {
    const dot = message.indexOf('.');
    if (dot <= 0) return null;
    const text = message.slice(dot + 1);
    const given = Buffer.from(message.slice(0, dot), 'base64url');
    const wanted = createHmac('sha256', this.secret).update(text).digest();
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return null;
    try {
      const body = JSON.parse(text) as unknown;
      return body && typeof body === 'object' ? (body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  private heard(message: string): void {
    const body = this.verified(message);
    if (!body) return;
    if (body.t === 'c' && Array.isArray(body.calls) && body.calls.length <= CALLS_MAX)
      void this.run(body.f, body.calls);
    else if (body.t === 'a' && Array.isArray(body.answers))
      for (const answer of body.answers as Array<Record<string, unknown> | null>) {
        const waiting = Number.isSafeInteger(answer?.n) ? this.waiting.get(answer!.n as number) : undefined;
        // Bound to the call it answers: an answer for another request id is no answer.
        if (!waiting || answer!.rid !== waiting.rid) continue;
        this.settle(answer!.n as number);
        if (typeof answer!.m === 'string')
          waiting.reject(new Error(`agentkey: the process leading this key failed the charge: ${answer!.m}`));
        else waiting.resolve((answer!.row ?? undefined) as CounterRow | undefined);
      }
  }

  /** Calls another process handed this one: run, then answered in one message on its channel. */
  private async run(from: unknown, calls: unknown[]): Promise<void> {
    const { handler } = this;
    if (!handler || typeof from !== 'string' || !ID.test(from)) return;
    const answers = await Promise.all(
      calls.map(async (call) => {
        const { n, r: row, c: charge } = (call ?? {}) as Record<string, unknown>;
        if (!Number.isSafeInteger(n) || typeof row !== 'string' || row.length > ROW_MAX) return null;
        const rid = (charge as { rid?: unknown } | null)?.rid;
        this.stats.served++;
        this.renew(row);
        try {
          return { n, rid, row: (await handler(row, charge)) ?? null };
        } catch (error) {
          return { n, rid, m: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    try {
      await this.redis.publish(this.channel(from), this.sign({ t: 'a', answers }));
    } catch (error) {
      this.report(error);
    }
  }

  /** The leader keeps its lead while it serves the row (at most every RENEW_MS). */
  private renew(row: string): void {
    const known = this.known.get(row);
    if (known && known.leader === null && Date.now() - known.renewedAt < RENEW_MS) return;
    if (known) known.renewedAt = Date.now();
    this.asking.add(row);
    void this.lead(row).finally(() => this.asking.delete(row));
  }

  private settle(n: number): Waiting | undefined {
    const waiting = this.waiting.get(n);
    if (waiting) {
      clearTimeout(waiting.timer);
      this.waiting.delete(n);
    }
    return waiting;
  }
}
