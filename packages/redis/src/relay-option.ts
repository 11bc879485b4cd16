import { inspect } from 'node:util';
import { AgentKeyInputError } from '@agentkey/core';
import type { Redis } from 'ioredis';
import type { RedisCounterOptions } from './options.js';
import type { Outages } from './outage.js';
import { RedisRelay } from './relay.js';

/** The relay's secret as the counter keeps it: printed, logged or serialised, it shows nothing. */
class HiddenSecret {
  readonly #secret: string;
  constructor(secret: string) {
    this.#secret = secret;
  }
  reveal(): string {
    return this.#secret;
  }
  toJSON(): string {
    return '[relay secret]';
  }
  [inspect.custom](): string {
    return '[relay secret]';
  }
}

/** The counter's options with the relay's secret hidden (the counter keeps these, bind reuses them). */
export function withHiddenSecret(options: RedisCounterOptions): RedisCounterOptions {
  const secret = checkRelayOption(options.relay);
  const { relay: _, ...rest } = options;
  return secret === null
    ? rest
    : { ...rest, relay: new HiddenSecret(secret) as unknown as { secret: string } };
}

/**
 * A relay for a store on the table (null: the `relay` option is off, or the client is a Cluster).
 * `options` as withHiddenSecret left them.
 */
export function relayMaker(
  options: RedisCounterOptions,
  base: string,
  outages: Outages,
): () => RedisRelay | null {
  const secret = checkRelayOption(options.relay);
  const cluster = (options.redis as { isCluster?: boolean }).isCluster === true;
  // One relay per store (each asks once): its own id, channel and leads, closed with that store.
  return () =>
    secret === null || cluster ? null : new RedisRelay(options.redis as Redis, base, secret, outages);
}

/** The `relay` option: absent (no relay), or `{ secret }` that every app process shares. */
function checkRelayOption(relay: unknown): string | null {
  if (relay === undefined || relay === null || relay === false) return null;
  if (relay instanceof HiddenSecret) return relay.reveal();
  const secret = (relay as { secret?: unknown } | null)?.secret;
  if (typeof relay !== 'object' || typeof secret !== 'string' || secret.length < 32 || secret.length > 1024) {
    throw new AgentKeyInputError(
      'relay must be { secret }: a string of 32 to 1024 characters that every app process shares',
      'relay',
    );
  }
  return secret;
}
