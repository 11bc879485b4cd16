import { describe, expect, it } from 'vitest';
import {
  insertRowSql,
  NEW_ROW_ACTOR_PARAM,
  NEW_ROW_NOW_PARAM,
  type NewRow,
  newRowParams,
} from '../../src/sql/insert.js';

// Every field a distinct value, so a value sent to the wrong column, or not sent, shows.
const row: NewRow = {
  accountId: 'acct',
  userId: 'user',
  keyHash: 'hash',
  keyPrefix: 'ak_1234',
  name: 'name',
  scopes: ['read'],
  budgetCents: 500,
  budgetPeriod: 'monthly',
  budgetResetAt: new Date('2026-05-01T00:00:00Z'),
  expiresAt: new Date('2026-06-01T00:00:00Z'),
  delegatedBy: 'boss',
  externalSubject: 'ns|sub',
  poolParentId: 7,
  rateRequests: 50,
  rateCents: 300,
  rateWindowSec: 60,
  now: new Date('2026-04-10T12:00:00Z'),
  actor: 'actor',
};
const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

describe('the new-row INSERT', () => {
  const sql = insertRowSql('keys', 'capped');
  const [, columnList = '', valueList = ''] = /\(([^)]*)\)\s*VALUES \((.*)\)\s*$/s.exec(sql) ?? [];
  const columns = columnList.split(',').map((c) => c.trim());
  const values = valueList.split(/,(?![^(]*\))/).map((v) => v.trim());
  const params = newRowParams(row);

  it('sends every field of the row, each to the column of its name', () => {
    expect(columns).toHaveLength(values.length);
    const sent: Record<string, unknown> = {};
    columns.forEach((column, i) => {
      const at = /^\$(\d+)/.exec(values[i] ?? '');
      if (at) sent[column] = params[Number(at[1]) - 1];
    });
    const { now, actor, ...fields } = row;
    expect(sent).toEqual(Object.fromEntries(Object.entries(fields).map(([f, v]) => [snake(f), v])));
    expect([params[NEW_ROW_NOW_PARAM - 1], params[NEW_ROW_ACTOR_PARAM - 1]]).toEqual([now, actor]);
    expect(params).toHaveLength(NEW_ROW_ACTOR_PARAM);
  });

  it('starts spend at zero and settles the ceiling flag from the row’s own account', () => {
    const at = (column: string) => values[columns.indexOf(column)] ?? '';
    expect([at('budget_used_cents'), at('budget_used_micros')]).toEqual(['0', '0']);
    const account = /^capped\(\$(\d+)\)$/.exec(at('account_capped'));
    expect(params[Number(account?.[1]) - 1]).toBe(row.accountId);
  });
});
