import { AgentKeyInputError } from '@agentkey/core';
import type { Cluster, Redis } from 'ioredis';

export interface RedisCounterOptions {
  /** An ioredis client: `new Redis(...)` (single node or Sentinel) or `new Cluster(...)`. */
  redis: Redis | Cluster;
  /** Prefix of every key this counter writes (default `agentkey:`): letters, digits, `:_-.`, at most 64. */
  prefix?: string;
  /** Each Redis call's deadline (ms, default 250, 5 to 10000): past it, the PostgreSQL path. */
  timeoutMs?: number;
  /** How long a mirror built from PostgreSQL may answer refusals (ms, default 1000, 50 to 60000). */
  trustMs?: number;
  /** After a Redis failure, how long to go straight to PostgreSQL before trying Redis again (ms, default 500). */
  retryMs?: number;
  /**
   * Cross-process coalescing of hot keys (README, "Several app processes"): one process leads a
   * key that several processes charge and writes it for all of them. `secret` (32 to 1024
   * characters, the same in every process) signs the calls and answers that cross Redis. Absent:
   * off. Not on a Cluster (PUBLISH there cannot tell that nobody listened).
   */
  relay?: { secret: string };
}

/** An option in ms: `fallback` when absent, else a whole number from `min` to `max`. */
export function whole(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new AgentKeyInputError(`${name} must be a whole number of ms from ${min} to ${max}`, name);
  }
  return value as number;
}

/**
 * Refuses a misspelt or unknown option (`trustms`, `timeout`), which would otherwise be ignored
 * and leave its default in force unnoticed.
 */
export function knownOptions(options: object, known: readonly string[], of: string): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new AgentKeyInputError(`${name} is not an option of ${of} (${known.join(', ')})`, name);
    }
  }
}
