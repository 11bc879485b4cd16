import { AgentKeyInputError } from '@agentkey/core';
import type { Redis } from 'ioredis';
import type { RedisCounterOptions } from './options.js';
import { RedisRelay } from './relay.js';

/**
 * The `relay` option of redisCounter, checked now: absent (no relay), or `{ secret }` shared by the
 * app's processes. Gives the table's relay, made on first use (null: off, or on a Cluster).
 */
export function relayMaker(options: RedisCounterOptions, base: string): () => RedisRelay | null {
  const secret = checkRelayOption(options.relay);
  const cluster = (options.redis as { isCluster?: boolean }).isCluster === true;
  let made: RedisRelay | null = null;
  return () => {
    if (secret === null || cluster) return null;
    made ??= new RedisRelay(options.redis as Redis, base, secret);
    return made;
  };
}

function checkRelayOption(relay: unknown): string | null {
  if (relay === undefined || relay === null || relay === false) return null;
  const secret = (relay as { secret?: unknown } | null)?.secret;
  if (typeof relay !== 'object' || typeof secret !== 'string' || secret.length < 32 || secret.length > 1024) {
    throw new AgentKeyInputError(
      'relay must be { secret }: a string of 32 to 1024 characters that every app process shares',
      'relay',
    );
  }
  return secret;
}
