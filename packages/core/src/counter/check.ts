import { AgentKeyInputError } from '../errors/errors.js';
import type { Counter } from './port.js';

const METHODS = ['admit', 'settle', 'abandon', 'invalidate'] as const;

/** The `counter` option: absent, or an object with the Counter port's methods; bound to the store's table. */
export function checkCounter(counter: unknown, table?: string): Counter | null {
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
  return checkCounter(bind.call(counter, table));
}
