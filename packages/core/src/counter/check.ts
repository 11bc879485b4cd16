import { AgentKeyInputError } from '../errors/errors.js';
import type { Counter } from './port.js';

const METHODS = ['admit', 'settle', 'abandon', 'invalidate'] as const;

/** The `counter` option: absent, or an object with the Counter port's methods. */
export function checkCounter(counter: unknown): Counter | null {
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
  return counter as Counter;
}
