/**
 * @agentkey/redis — Redis in front of @agentkey/core's PostgreSQL store: a write-through counter
 * (admission in one Lua script, the durable write in PostgreSQL, then the acknowledgement).
 * PostgreSQL stays the source of truth.
 */
export const PACKAGE = '@agentkey/redis';
export { type RedisChanges, type RedisChangesOptions, redisChanges } from './changes.js';
export { RedisCounter, type RedisCounterOptions, redisCounter } from './counter.js';
export { RedisCounterError } from './outage.js';
