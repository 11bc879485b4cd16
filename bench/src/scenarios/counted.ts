import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Scenario } from '../harness.js';

/** What one scenario asked of PostgreSQL and Redis, per request: load-independent, unlike its timing. */
export interface PerRequest {
  /** Statements sent to PostgreSQL (every kind below). */
  statements: number;
  /** Calls of the engine function (`_charge`), the per-call fallback of the batched paths. */
  engine: number;
  /** Batch statements (`unnest … WITH ORDINALITY`). */
  batch: number;
  /** Commands sent to Redis (each script call is one). */
  redis: number;
}

/** Calls `count` with the kind of every query `pool` runs (it stays a pg.Pool: prepared statements stay on). */
export function countQueries(pool: pg.Pool, count: (kind: 'engine' | 'batch' | 'lone') => void): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string }).text ?? '');
    count(text.includes('_charge"(') ? 'engine' : text.includes('WITH ORDINALITY') ? 'batch' : 'lone');
    return query(...args);
  };
}

/**
 * Counts every query of `pool` and every command of `redis` by kind, and attributes them to the
 * scenario running (its `start`/`stop`, warm-up included), with the requests it made.
 */
export function counted(pool: pg.Pool, redis: Redis) {
  const now = { engine: 0, batch: 0, lone: 0, redis: 0, requests: 0 };
  const totals = new Map<string, typeof now>();
  countQueries(pool, (kind) => now[kind]++);
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((...args: Parameters<typeof send>) => {
    now.redis++;
    return send(...args);
  }) as typeof send;
  const reset = () => {
    now.engine = now.batch = now.lone = now.redis = now.requests = 0;
  };
  return {
    /** `scenario` with its requests counted and its counts kept under its name. */
    wrap(scenario: Scenario): Scenario {
      return {
        ...scenario,
        run: (c, i) => {
          now.requests++;
          return scenario.run(c, i);
        },
        start: reset,
        stop: () => {
          const sum = totals.get(scenario.name) ?? { engine: 0, batch: 0, lone: 0, redis: 0, requests: 0 };
          for (const k of Object.keys(now) as Array<keyof typeof now>) sum[k] += now[k];
          totals.set(scenario.name, sum);
        },
      };
    },
    /** The counts per request of `name` over every round it ran; undefined if it did not. */
    of(name: string): PerRequest | undefined {
      const t = totals.get(name);
      if (!t || t.requests === 0) return undefined;
      return {
        statements: (t.engine + t.batch + t.lone) / t.requests,
        engine: t.engine / t.requests,
        batch: t.batch / t.requests,
        redis: t.redis / t.requests,
      };
    },
  };
}

/** One line per scenario that ran: its counts per request. */
export function countLines(names: string[], of: (name: string) => PerRequest | undefined): string[] {
  return names.flatMap((name) => {
    const c = of(name);
    return c
      ? [
          `${name.split(' ')[0]} per request: statements ${c.statements.toFixed(3)}, engine calls ${c.engine.toFixed(3)}, batch statements ${c.batch.toFixed(3)}, Redis commands ${c.redis.toFixed(3)}`,
        ]
      : [];
  });
}
