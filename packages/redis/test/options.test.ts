import { AgentKeyInputError } from '@agentkey/core';
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
  ])('refuses %s with an AgentKeyInputError naming the option', (_, options, field) => {
    const given = options && !('redis' in options) ? { redis, ...options } : options;
    let thrown: unknown;
    try {
      redisCounter(given as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AgentKeyInputError);
    expect(thrown).toMatchObject({ field });
  });

  it('accepts a client and its defaults', () => {
    expect(redisCounter({ redis })).toBeDefined();
  });
});
