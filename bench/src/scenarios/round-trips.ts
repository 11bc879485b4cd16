import type { Redis } from 'ioredis';
import type pg from 'pg';

/**
 * Load-independent counters of the Redis scenarios: requests, PostgreSQL statements (the engine
 * function, a batch statement, any other) and Redis commands (by name: evalsha, eval, …) that a
 * scenario's calls sent. Timing on the shared 2-core machine drifts with its load; these do not.
 */
export interface RoundTrips {
  requests: number;
  engine: number;
  batch: number;
  otherPg: number;
  redis: Record<string, number>;
  /** This process's CPU time (user + system, µs) while the scenario ran. */
  cpuMicros: number;
}

export const noTrips = (): RoundTrips => ({
  requests: 0,
  engine: 0,
  batch: 0,
  otherPg: 0,
  redis: {},
  cpuMicros: 0,
});

/** Counts every query of `pool` into `into()` (the pool stays a pg.Pool: prepared statements stay on). */
export function countPool(pool: pg.Pool, into: () => RoundTrips | null): pg.Pool {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const c = into();
    if (c) {
      const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string }).text ?? '');
      if (text.includes('_charge"(')) c.engine++;
      else if (text.includes('WITH ORDINALITY')) c.batch++;
      else c.otherPg++;
    }
    return query(...args);
  };
  return pool;
}

/** Counts every command `redis` sends (a pipeline's commands one by one) into `into()`. */
export function countRedis(redis: Redis, into: () => RoundTrips | null): Redis {
  const send = redis.sendCommand.bind(redis) as (...args: unknown[]) => unknown;
  (redis as unknown as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (
    ...args: unknown[]
  ) => {
    const c = into();
    const name = (args[0] as { name?: string } | undefined)?.name ?? '?';
    if (c) c.redis[name] = (c.redis[name] ?? 0) + 1;
    return send(...args);
  };
  return redis;
}

/** `a` + `b`. */
export function addTrips(a: RoundTrips, b: RoundTrips): RoundTrips {
  const redis = { ...a.redis };
  for (const [k, v] of Object.entries(b.redis)) redis[k] = (redis[k] ?? 0) + v;
  return {
    requests: a.requests + b.requests,
    engine: a.engine + b.engine,
    batch: a.batch + b.batch,
    otherPg: a.otherPg + b.otherPg,
    redis,
    cpuMicros: a.cpuMicros + b.cpuMicros,
  };
}

/** One line: per request, PostgreSQL statements by kind and Redis commands by name. */
export function tripsLine(label: string, c: RoundTrips): string {
  const per = (n: number) => (c.requests > 0 ? n / c.requests : 0).toFixed(3);
  const pgAll = c.engine + c.batch + c.otherPg;
  const redisAll = Object.values(c.redis).reduce((s, n) => s + n, 0);
  const names = Object.entries(c.redis)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${per(v)}`)
    .join(', ');
  return (
    `${label}: per request (${c.requests} requests, warm-up included): PostgreSQL statements ${per(pgAll)} ` +
    `(engine ${per(c.engine)}, batch ${per(c.batch)}, other ${per(c.otherPg)}); Redis commands ${per(redisAll)}${names ? ` (${names})` : ''}; ` +
    `app CPU ${(c.requests > 0 ? c.cpuMicros / c.requests : 0).toFixed(1)} µs`
  );
}
