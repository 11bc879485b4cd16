import { afterAll, describe, expect, it } from 'vitest';
import { NONE, scopes, time } from '../../src/input/parse.js';

/** The command line's value parsers (input/parse.ts): what a slip is refused as, not guessed at. */
describe('agentkey value parsers', () => {
  const zone = process.env.TZ;
  // Far from UTC: a date-time without an offset read in the machine's zone would be 9 h off.
  process.env.TZ = 'Asia/Tokyo';
  afterAll(() => {
    process.env.TZ = zone;
  });
  const at = (value: string) => time(value)(new Date('2026-12-04T00:00:00Z')).toISOString();

  it('reads a date, and a date-time without an offset, as UTC; an offset as written', () => {
    expect(at('2026-03-01')).toBe('2026-03-01T00:00:00.000Z');
    expect(at('2026-03-01T00:30')).toBe('2026-03-01T00:30:00.000Z');
    expect(at('2026-03-01T00:30:15.5Z')).toBe('2026-03-01T00:30:15.500Z');
    expect(at('2026-03-01T23:30-05:00')).toBe('2026-03-02T04:30:00.000Z');
    expect(at('2028-02-29')).toBe('2028-02-29T00:00:00.000Z');
    expect(at('0099-01-01')).toBe('0099-01-01T00:00:00.000Z');
    expect(at('7d')).toBe('2026-11-27T00:00:00.000Z');
  });

  it('refuses a day or a time the calendar lacks, and what is not ISO', () => {
    for (const slip of [
      '2026-02-29',
      '2026-02-30',
      '2026-04-31',
      '2026-13-01',
      '2026-00-10',
      '2026-03-01T24:00',
      '2026-03-01T10:61',
      '2026-04-30 10:00',
      'yesterday',
      '2026-3-1',
    ])
      expect(() => time(slip), slip).toThrow(/A time is an ISO date/);
  });

  it('takes none and all alone (trimmed), trims words, and refuses blanks and none/all in a list', () => {
    expect(scopes(' none')).toEqual([]);
    expect(scopes('all ')).toBe(NONE);
    expect(scopes('chat , embed')).toEqual(['chat', 'embed']);
    for (const slip of [',,', 'chat,,embed', 'chat, ,embed', 'chat,', 'none,chat', 'chat,all'])
      expect(() => scopes(slip), slip).toThrow(/Scopes are comma-separated words/);
  });
});
