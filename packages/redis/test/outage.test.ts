import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { redisCounter } from '../src/counter.js';
import { MIN_GAP_MS, Outages, REPORT_EVERY_MS, RedisCounterError } from '../src/outage.js';

// How Redis failures reach the stores' onError (outage.ts): told, never a flood. The counter's
// side, against a real redis-server killed mid-run, is in faults.test.ts; the relay's here, on a
// real client whose server is not there.
afterEach(() => {
  vi.useRealTimers();
});

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function sink() {
  const told: Array<{ error: Error; context: string }> = [];
  return { told, report: (error: unknown, context: string) => told.push({ error: error as Error, context }) };
}

describe('Outages', () => {
  it('tells the first failure at once, then one reminder per REPORT_EVERY_MS while Redis keeps failing', () => {
    vi.useFakeTimers();
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    const cause = new Error('connect ECONNREFUSED');
    for (let i = 0; i < 100; i++) outages.failed(cause, 250, 500);
    expect(told).toHaveLength(1);
    expect(told[0]!.context).toBe('counter.redis');
    expect(told[0]!.error).toBeInstanceOf(RedisCounterError);
    expect((told[0]!.error.cause as Error).message).toBe(cause.message);
    expect(told[0]!.error.message).toBe(
      'agentkey redis: Redis failed or passed timeoutMs (250 ms): calls take the PostgreSQL path for retryMs (500 ms), then try Redis again',
    );
    vi.advanceTimersByTime(REPORT_EVERY_MS - 1);
    outages.failed(cause, 250, 500);
    expect(told).toHaveLength(1);
    vi.advanceTimersByTime(1);
    outages.failed(cause, 250, 500);
    expect(told).toHaveLength(2);
  });

  it('a failure after Redis answered a call made since is a new outage, told once MIN_GAP_MS have passed', () => {
    vi.useFakeTimers();
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    outages.failed(new Error('down'), 250, 500);
    outages.failed(new Error('down'), 250, 500);
    vi.advanceTimersByTime(10);
    outages.answered(Date.now());
    outages.failed(new Error('flapping'), 250, 500);
    expect(told).toHaveLength(1);
    vi.advanceTimersByTime(MIN_GAP_MS);
    outages.failed(new Error('down again'), 250, 500);
    expect(told.map((t) => (t.error.cause as Error).message)).toEqual(['down', 'down again']);
  });

  it('an answer to a call that was out before the failure was told does not end the outage', () => {
    vi.useFakeTimers();
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    const before = Date.now();
    vi.advanceTimersByTime(10);
    outages.failed(new Error('timed out'), 250, 500);
    vi.advanceTimersByTime(MIN_GAP_MS);
    outages.answered(before);
    outages.failed(new Error('timed out'), 250, 500);
    expect(told).toHaveLength(1);
  });

  it("the relay's failures are throttled on their own: the counter answering does not let them flood", () => {
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    for (let i = 0; i < 50; i++) {
      outages.relayFailed(new Error('publish failed'), 'publish of calls');
      outages.answered(Date.now() + 1);
    }
    expect(told).toHaveLength(1);
    expect(told[0]!.context).toBe('counter.relay');
    expect(told[0]!.error.message).toBe(
      "agentkey redis: the relay's publish of calls failed: the calls it would carry are charged by the processes that took them",
    );
    outages.failed(new Error('down'), 250, 500);
    expect(told.map((t) => t.context)).toEqual(['counter.relay', 'counter.redis']);
  });

  it("the cause keeps Redis's name, message and code, never the command's arguments a client hung on it", () => {
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    const reply = Object.assign(new Error('NOPERM this user has no permissions to run the publish command'), {
      name: 'ReplyError',
      code: 'NOPERM',
      command: {
        name: 'publish',
        args: ['agentkey:relay:abc', '{"calls":[{"v":"a-key-hash"}],"s":"signature"}'],
      },
    });
    outages.relayFailed(reply, 'publish');
    const cause = told[0]!.error.cause as Error & { code?: string };
    expect(cause.message).toBe(reply.message);
    expect(cause.name).toBe('ReplyError');
    expect(cause.code).toBe('NOPERM');
    expect(cause).not.toHaveProperty('command');
    expect(inspect(told[0]!.error, { depth: 10 })).not.toContain('a-key-hash');
    outages.failed('a string thrown', 250, 500);
    expect((told[1]!.error.cause as Error).message).toBe('a string thrown');
    // A connect to every address failed: no message of its own, the addresses' in `errors`.
    const all = Object.assign(
      new AggregateError(
        [new Error('connect ECONNREFUSED ::1:6390'), new Error('connect ECONNREFUSED 127.0.0.1:6390')],
        '',
      ),
      { code: 'ECONNREFUSED' },
    );
    const relay = new Outages();
    relay.add(report);
    relay.relayFailed(all, 'subscription');
    expect((told[2]!.error.cause as Error).message).toBe(
      'connect ECONNREFUSED ::1:6390; connect ECONNREFUSED 127.0.0.1:6390',
    );
    expect(told[2]!.error.cause).not.toHaveProperty('errors');
  });

  it('every store bound gets each report once; a throwing sink stops neither the others nor the caller', () => {
    const outages = new Outages();
    const a = sink();
    const b = sink();
    outages.add(() => {
      throw new Error('a broken onError');
    });
    outages.add(a.report);
    outages.add(a.report);
    outages.add(b.report);
    outages.add(undefined);
    expect(() => outages.failed(new Error('down'), 250, 500)).not.toThrow();
    expect(a.told).toHaveLength(1);
    expect(b.told).toHaveLength(1);
    const odd = new Error('odd');
    Object.defineProperty(odd, 'message', {
      get() {
        throw new Error('a message that cannot be read');
      },
    });
    expect(() => new Outages().failed(odd, 250, 500)).not.toThrow();
  });

  it('a closed store hears no more; a sink two stores added stays until both closed', () => {
    const outages = new Outages();
    const shared = sink();
    const own = sink();
    outages.add(shared.report);
    outages.add(shared.report);
    outages.add(own.report);
    outages.remove(own.report);
    outages.remove(shared.report);
    outages.failed(new Error('down'), 250, 500);
    expect(own.told).toHaveLength(0);
    expect(shared.told).toHaveLength(1);
    outages.remove(shared.report);
    outages.answered(Date.now() + 1);
    vi.useFakeTimers();
    vi.advanceTimersByTime(MIN_GAP_MS);
    outages.failed(new Error('down again'), 250, 500);
    expect(shared.told).toHaveLength(1);
  });

  it("a relay whose subscription fails tells the store's onError, through redisCounter's bind", async () => {
    const port = await closedPort();
    const redis = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    const { told, report } = sink();
    const relay = redisCounter({ redis, relay: { secret: 's'.repeat(32) } })
      .bind('public.agent_keys', report)
      .relay();
    try {
      relay!.contended('key:abc');
      await vi.waitFor(() => expect(told.map((t) => t.context)).toContain('counter.relay'));
      const [first] = told.filter((t) => t.context === 'counter.relay');
      expect(first!.error.message).toMatch(/the relay's subscription failed/);
      expect((first!.error.cause as Error).message).toMatch(/ECONNREFUSED|Connection is closed/);
      expect(inspect(first!.error, { depth: 10 })).not.toContain('s'.repeat(32));
    } finally {
      relay!.close?.();
      redis.disconnect();
    }
  });
  it('a client still making its first connection (enableOfflineQueue: false, as the README builds it) is no outage; one refused is', async () => {
    const starting = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    starting.on('error', () => {});
    const { told, report } = sink();
    try {
      expect(starting.status).toBe('connecting');
      const prefix = `test:${Date.now().toString(36)}:`;
      const counter = redisCounter({ redis: starting, prefix }).bind('public.agent_keys', report);
      // Sent before the connection is up, the command would be refused ("Stream isn't writeable").
      await counter.invalidate({ accountId: 'acct-start' });
      expect(told).toEqual([]);
      await vi.waitFor(() => expect(starting.status).toBe('ready'));
      await counter.invalidate({ accountId: 'acct-start' });
      expect(await starting.get(`${prefix}{acct-start}:g`)).toBe('1');
      await starting.del(`${prefix}{acct-start}:g`, `${prefix}{acct-start}:ge`);
      expect(told).toEqual([]);
    } finally {
      starting.disconnect();
    }
    const port = await closedPort();
    const refused = new Redis({
      host: '127.0.0.1',
      port,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    refused.on('error', () => {});
    try {
      await vi.waitFor(() => expect(refused.status).toBe('end'));
      const counter = redisCounter({ redis: refused }).bind('public.agent_keys', report);
      await counter.invalidate({ accountId: 'acct-start' });
      expect(told.map((t) => t.context)).toEqual(['counter.redis']);
    } finally {
      refused.disconnect();
    }
  });
});
