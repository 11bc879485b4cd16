/**
 * @agentkey/redis — Redis in front of @agentkey/core's PostgreSQL store: a write-through counter
 * (admission in one Lua script, the durable write in PostgreSQL, then the acknowledgement), rate
 * limits across processes, and cache invalidation. PostgreSQL stays the source of truth.
 */
export const PACKAGE = '@agentkey/redis';
export { type RedisChanges, type RedisChangesOptions, redisChanges } from './changes.js';
