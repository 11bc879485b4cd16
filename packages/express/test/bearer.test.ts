import { describe, expect, it } from 'vitest';
import { bearerToken } from '../src/bearer.js';

describe('bearerToken', () => {
  it('reads the token of a Bearer header, in any case of the scheme', () => {
    expect(bearerToken('Bearer ak_123')).toBe('ak_123');
    expect(bearerToken('bearer ak_123')).toBe('ak_123');
    expect(bearerToken('BEARER  ak_123 ')).toBe('ak_123');
  });

  it('finds none in other schemes or an empty token', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer    ',
      'Basic abc',
      'Bearerak_1',
      'Token ak_1',
    ]) {
      expect(bearerToken(header)).toBeNull();
    }
  });
});
