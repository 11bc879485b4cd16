import { describe, expect, it } from 'vitest';
import { checkChangeFeed, parseChange } from '../../src/changes/feed.js';
import { AgentKeyInputError } from '../../src/errors/errors.js';

describe('changes: what a feed carries between processes', () => {
  it('parses a change another process published, and nothing else (a foreign or broken message is ignored)', () => {
    const change = { table: 'public.sdk_api_keys', what: 'revoke', target: { keyId: 3 } };
    expect(parseChange(JSON.parse(JSON.stringify(change)))).toEqual(change);
    expect(parseChange({ ...change, target: { subject: 'oidc|a' } })?.target).toEqual({ subject: 'oidc|a' });
    expect(parseChange({ ...change, what: 'account', target: { accountId: 'a1' } })?.what).toBe('account');
    for (const bad of [
      null,
      'revoke',
      { ...change, table: 1 },
      { ...change, what: 'drop' },
      { ...change, target: { keyId: 0 } },
      { ...change, target: { keyId: '3' } },
      { ...change, target: { subject: '' } },
      { ...change, target: null },
    ]) {
      expect(parseChange(bad)).toBeNull();
    }
  });

  it('refuses a `changes` option that is not a ChangeFeed, naming the option', () => {
    expect(checkChangeFeed(undefined)).toBeNull();
    for (const bad of [{}, { publish() {} }, { subscribe() {} }, 'redis', 1]) {
      expect(() => checkChangeFeed(bad)).toThrow(AgentKeyInputError);
      expect(() => checkChangeFeed(bad)).toThrow(expect.objectContaining({ field: 'changes' }));
    }
  });
});
