import { redisCounter } from '@agentkey/redis';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';

const redis = new Redis(inject('redisUrl'), { lazyConnect: true });
afterAll(() => redis.disconnect());

describe('redisCounter options', () => {
  it.each([
    ['no options', undefined, 'options'],
    ['no client', { redis: undefined }, 'redis'],
    ['a URL instead of a client', { redis: 'redis://127.0.0.1:6379' }, 'redis'],
    ['a prefix with a brace (it would split the hash tag)', { prefix: 'a{b}:' }, 'prefix'],
    ['a prefix too long', { prefix: 'p'.repeat(65) }, 'prefix'],
    ['timeoutMs of 0', { timeoutMs: 0 }, 'timeoutMs'],
    ['timeoutMs not whole', { timeoutMs: 12.5 }, 'timeoutMs'],
    ['trustMs too long', { trustMs: 3_600_000 }, 'trustMs'],
    ['retryMs negative', { retryMs: -1 }, 'retryMs'],
    ['a misspelt option (its default would stay in force unnoticed)', { trustms: 5000 }, 'trustms'],
    ['an option of another API', { timeout: 100 }, 'timeout'],
    ['a prefix of null', { prefix: null }, 'prefix'],
  ])('refuses %s with an AgentKeyInputError naming the option', (_, options, field) => {
    const given = options && !('redis' in options) ? { redis, ...options } : options;
    expect(() => redisCounter(given as never)).toThrow(
      expect.objectContaining({ name: 'AgentKeyInputError', code: 'invalid_input', field }),
    );
  });

  it('accepts a client and its defaults', () => {
    expect(redisCounter({ redis })).toBeDefined();
  });

  it("binds one counter per store table: another table's counter is another, the same table's the same", () => {
    const counter = redisCounter({ redis });
    const x = counter.bind('app.keys_x');
    expect(x).not.toBe(counter);
    expect(counter.bind('app.keys_x')).toBe(x);
    expect(counter.bind('app.keys_y')).not.toBe(x);
    expect(() => counter.bind(7 as never)).toThrow(expect.objectContaining({ field: 'table' }));
  });
});
