import { AgentKey, AgentKeyInputError } from '@agentkey/core';
import { openDb } from '@agentkey/test-support/db.js';
import { describe, expect, it } from 'vitest';

describe('the counter option', () => {
  it.each([
    ['a string', 'redis://localhost'],
    ['an object without the port', { admit: async () => ({ kind: 'unknown' }) }],
    ['a number', 42],
  ])('refuses %s with an AgentKeyInputError naming counter', async (_, counter) => {
    const db = await openDb();
    try {
      let thrown: unknown;
      try {
        new AgentKey({ pool: db.pool, tableName: db.table, counter: counter as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(AgentKeyInputError);
      expect((thrown as AgentKeyInputError).message).toMatch(/counter must implement admit, settle/);
      expect(thrown).toMatchObject({ field: 'counter' });
    } finally {
      await db.close();
    }
  });

  it('binds the counter to the store table: a bind that is no function, or answers no counter, is refused', async () => {
    const db = await openDb();
    const port = {
      admit: async () => ({ kind: 'unknown' as const }),
      settle: async () => {},
      abandon: async () => {},
      invalidate: async () => {},
    };
    try {
      const tables: string[] = [];
      const bound = {
        ...port,
        bind: (table: string) => {
          tables.push(table);
          return port;
        },
      };
      new AgentKey({ pool: db.pool, tableName: db.table.toUpperCase(), counter: bound });
      expect(tables).toEqual([db.table.toLowerCase()]);
      for (const bind of [42, () => 'redis']) {
        expect(
          () => new AgentKey({ pool: db.pool, tableName: db.table, counter: { ...port, bind } as never }),
        ).toThrow(expect.objectContaining({ name: 'AgentKeyInputError', field: 'counter' }));
      }
    } finally {
      await db.close();
    }
  });
});
