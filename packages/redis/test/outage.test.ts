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
    expect(told[0]!.error.cause).toBe(cause);
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
