/**
 * A new keys-table row (a key, a child key or an external subject), as its INSERT takes it. Every
 * insert goes through `newRowParams`, so the statement's columns and the values sent for them come
 * from one list (`FIELDS`) and the callers cannot disagree on their order.
 */
export interface NewRow {
  accountId: string;
  userId: string | null;
  keyHash: string;
  /** The key's first characters, shown in admin reads; `external` for subjects. */
  keyPrefix: string;
  name: string | null;
  scopes: string[] | null;
  budgetCents: number | null;
  budgetPeriod: string | null;
  budgetResetAt: Date | null;
  expiresAt: Date | null;
  delegatedBy: string | null;
  externalSubject: string | null;
  poolParentId: number | null;
  /** The rate limit's columns (sql/rate-rules.ts); all null: none. */
  rateRequests: number | null;
  rateCents: number | null;
  rateWindowSec: number | null;
  /** The audit row's time. */
  now: Date;
  /** The audit row's actor. */
  actor: string | null;
}

type Field = Exclude<keyof NewRow, 'now' | 'actor'>;

/** The written columns, in parameter order, by their fields' names (`budgetResetAt`: budget_reset_at). */
const FIELDS: readonly Field[] = [
  'accountId',
  'userId',
  'keyHash',
  'keyPrefix',
  'name',
  'scopes',
  'budgetCents',
  'budgetPeriod',
  'budgetResetAt',
  'expiresAt',
  'delegatedBy',
  'externalSubject',
  'poolParentId',
  'rateRequests',
  'rateCents',
  'rateWindowSec',
];
/** Parameters whose type PostgreSQL cannot infer from the column alone. */
const CASTS: Partial<Record<Field, string>> = {
  scopes: '::text[]',
  poolParentId: '::integer',
  rateRequests: '::integer',
  rateCents: '::integer',
  rateWindowSec: '::integer',
};
const column = (field: Field) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The parameters of an insert: the columns' values in `FIELDS` order, then now and actor. */
export function newRowParams(row: NewRow): unknown[] {
  return [...FIELDS.map((field) => row[field]), row.now, row.actor];
}

/** Where `audited` finds the audit row's time and actor among the insert's parameters. */
export const NEW_ROW_NOW_PARAM = FIELDS.length + 1;
export const NEW_ROW_ACTOR_PARAM = FIELDS.length + 2;

/**
 * The INSERT (without RETURNING) of one new row. Spend starts at zero; the ceiling flag is settled
 * at insert (`accountCapped`: the engine's function over the account), so even a key's first
 * charge takes the one-statement path.
 */
export function insertRowSql(keys: string, accountCapped: string): string {
  const account = `$${FIELDS.indexOf('accountId') + 1}`;
  const values = FIELDS.map((field, i) => `$${i + 1}${CASTS[field] ?? ''}`);
  return `INSERT INTO ${keys} (${FIELDS.map(column).join(', ')}, budget_used_cents, budget_used_micros, account_capped)
    VALUES (${values.join(', ')}, 0, 0, ${accountCapped}(${account}))`;
}
