import type { StoreReporter } from '../db/pool-errors.js';
import { AgentKeyInputError } from '../errors/errors.js';
import type { Counter, Relay } from './port.js';

const METHODS = ['admit', 'settle', 'abandon', 'invalidate'] as const;

/**
 * The `counter` option: absent, or an object with the Counter port's methods; bound to the
 * store's table, with the store's error sink (`report`) for the failures the counter absorbs.
 */
export function checkCounter(counter: unknown, table?: string, report?: StoreReporter): Counter | null {
  if (counter === undefined || counter === null) return null;
  const missing =
    typeof counter === 'object'
      ? METHODS.filter((m) => typeof (counter as Record<string, unknown>)[m] !== 'function')
      : METHODS;
  if (missing.length > 0) {
    throw new AgentKeyInputError(
      `counter must implement ${METHODS.join(', ')} (e.g. redisCounter from @agentkey/redis); missing ${missing.join(', ')}`,
      'counter',
    );
  }
  const bind = (counter as Counter).bind;
  if (table === undefined || bind === undefined) return counter as Counter;
  if (typeof bind !== 'function') throw new AgentKeyInputError('counter.bind must be a function', 'counter');
  return checkCounter(bind.call(counter, table, report));
}

const RELAY_METHODS = ['leaderOf', 'contended', 'forward', 'serve'] as const;

/** The counter's relay (Counter.relay), or null: a counter without one, or one that offers none. */
export function checkRelay(counter: Counter | null): Relay | null {
  if (!counter || typeof counter.relay !== 'function') return null;
  const relay = counter.relay();
  if (relay === null || relay === undefined) return null;
  const missing = RELAY_METHODS.filter(
    (m) => typeof (relay as unknown as Record<string, unknown>)[m] !== 'function',
  );
  if (missing.length > 0)
    throw new AgentKeyInputError(
      `counter.relay() must return a Relay; missing ${missing.join(', ')}`,
      'counter',
    );
  return relay;
}
