import { describe, expect, it } from 'vitest';
import { money } from '../../src/output/format.js';

describe('money (output/format.ts)', () => {
  it('shows cents as dollars, keeping the fractions of a cent that per-token prices charge', () => {
    expect([0, 1, 12.5, 0.0125, 150, -40, 100_000, null].map(money)).toEqual([
      '$0.00',
      '$0.01',
      '$0.125',
      '$0.000125',
      '$1.50',
      '-$0.40',
      '$1000.00',
      'unlimited',
    ]);
  });
});
