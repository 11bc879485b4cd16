import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Outages, REPORT_EVERY_MS, RedisCounterError } from '../src/outage.js';

// How Redis failures reach the stores' onError (outage.ts): told, never a flood. The counter's
// side, against a real redis-server killed mid-run, is in faults.test.ts.
afterEach(() => {
  vi.useRealTimers();
});

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

  it('a failure after Redis answered is a new outage, told at once', () => {
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    outages.failed(new Error('down'), 250, 500);
    outages.failed(new Error('down'), 250, 500);
    outages.answered();
    outages.failed(new Error('down again'), 250, 500);
    expect(told.map((t) => (t.error.cause as Error).message)).toEqual(['down', 'down again']);
  });

  it("the relay's failures are throttled on their own: the counter answering does not let them flood", () => {
    const outages = new Outages();
    const { told, report } = sink();
    outages.add(report);
    for (let i = 0; i < 50; i++) {
      outages.relayFailed(new Error('publish failed'), 'publish');
      outages.answered();
    }
    expect(told).toHaveLength(1);
    expect(told[0]!.context).toBe('counter.relay');
    expect(told[0]!.error.message).toBe(
      "agentkey redis: the relay's publish failed: its calls are charged in their own process",
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
  });
});
