import { rowSql } from './expressions.js';
import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';
import { markOf } from './requests.js';
import { accountHeldSum, centsOf } from './rules.js';

/** Kinds whose amounts add up to a period's spend (the counter). */
const SPEND_KINDS = `('charge', 'settle', 'adjust', 'void')`;

/**
 * SET fragments that give a key a budget period (`p`, first reset `r`, at time `n`: parameters).
 * An unchanged period is left alone, with its lazy roll. A changed one starts now, from zero: the
 * spend so far belonged to the old period, and the ledger from now on must equal the counter.
 * A period removed keeps the current period's spend (none if it elapsed) for the fixed budget.
 */
export function periodSets(p: string, r: string, n: string): string[] {
  const changed = `budget_period IS DISTINCT FROM ${p}::text`;
  const used = `(CASE WHEN ${p}::text IS NULL THEN ${rowSql(n, 'NULL').USED_MICROS} ELSE 0::bigint END)`;
  // A change that zeroes the spend starts a new period for the claims' marks (sql/requests.ts):
  // a void must not refund it. Removing a live period keeps the spend, and the mark's count.
  const kept = `(${p}::text IS NULL AND NOT ${rowSql(n, 'NULL').ELAPSED})`;
  return [
    `budget_period = ${p}::text`,
    `budget_resets = CASE WHEN ${changed} AND NOT ${kept} THEN budget_resets + 1 ELSE budget_resets END`,
    // A period with no reset date (a hand-written row) never rolls: setting it gives it one.
    `budget_reset_at = CASE WHEN ${changed} THEN ${r}::timestamptz ELSE COALESCE(budget_reset_at, ${r}::timestamptz) END`,
    `budget_used_micros = CASE WHEN ${changed} THEN ${used} ELSE budget_used_micros END`,
    `budget_used_cents = CASE WHEN ${changed} THEN ${centsOf(used)} ELSE budget_used_cents END`,
  ];
}

/** Admin statements. Each writes its audit row in the same statement as the change. */
export function adminStatements(t: TableNames) {
  const e = engineNames(t);
  // Over a keys or accounts row (they share the budget columns), at the statement's $2.
  const now = rowSql('$2::timestamptz', 'NULL');
  // The period a reset zeroes (rolled first if it elapsed), as claims mark it: a void of a charge
  // in it gives back what the reset's adjust took (sql/requests.ts).
  const zeroed = markOf('budget_resets', now.NEXT_RESET);
  const audit = (source: string, kind: string, extra = `NULL::jsonb`) =>
    `INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, actor, metadata)
       SELECT $2::timestamptz, id, external_subject, account_id, '${kind}', $3::text, ${extra} FROM ${source}`;
  return {
    /** $1 id, $2 now, $3 actor, $4 whole cents to add to the cap (budget_cents); returns id, account_id. */
    topUpKey: `WITH upd AS (UPDATE ${t.keys} SET budget_cents = budget_cents + $4::integer
        WHERE id = $1 AND budget_cents IS NOT NULL RETURNING id, external_subject, account_id, budget_cents)
      , led AS (${audit('upd', 'admin:topup', `jsonb_build_object('cents', $4::integer, 'budget_cents', budget_cents)`)})
      SELECT id, account_id FROM upd`,
    topUpAccount: `WITH upd AS (UPDATE ${e.accounts} SET budget_cents = budget_cents + $4::integer, updated_at = $2::timestamptz
        WHERE account_id = $1 AND budget_cents IS NOT NULL RETURNING account_id, budget_cents)
      , led AS (INSERT INTO ${e.ledger} (at, account_id, kind, actor, metadata)
        SELECT $2::timestamptz, account_id, 'admin:topup', $3::text,
          jsonb_build_object('cents', $4::integer, 'budget_cents', budget_cents) FROM upd)
      SELECT account_id FROM upd`,
    /**
     * Zero the period's spend, appending the opposite amount so ledger sums keep equalling the counter.
     * A period that already elapsed rolls first: its spend belongs to the old period, not this one.
     */
    resetKey: `WITH o AS (SELECT id, ${now.USED_MICROS} AS before, ${now.NEXT_RESET} AS next_reset, ${zeroed} AS zeroed
        FROM ${t.keys} WHERE id = $1 FOR UPDATE)
      , upd AS (UPDATE ${t.keys} k SET budget_used_micros = 0, budget_used_cents = 0, budget_reset_at = o.next_reset,
          budget_resets = k.budget_resets + 1
        FROM o WHERE k.id = o.id RETURNING k.id, k.external_subject, k.account_id, o.before, o.zeroed)
      , led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros, actor, metadata)
        SELECT $2::timestamptz, id, external_subject, account_id, 'adjust', -before, $3::text,
          jsonb_build_object('zeroed', zeroed) FROM upd)
      SELECT id, account_id FROM upd`,
    resetAccount: `WITH o AS (SELECT account_id, ${now.USED_MICROS} AS before, ${now.NEXT_RESET} AS next_reset,
        ${zeroed} AS zeroed FROM ${e.accounts} WHERE account_id = $1 FOR UPDATE)
      , upd AS (UPDATE ${e.accounts} a SET budget_used_micros = 0, budget_used_cents = 0, budget_reset_at = o.next_reset,
          budget_resets = a.budget_resets + 1,
          updated_at = $2::timestamptz
        FROM o WHERE a.account_id = o.account_id RETURNING a.account_id, o.before, o.zeroed)
      , led AS (INSERT INTO ${e.ledger} (at, account_id, kind, amount_micros, actor, metadata)
        SELECT $2::timestamptz, account_id, 'adjust', -before, $3::text, jsonb_build_object('zeroed', zeroed) FROM upd)
      SELECT account_id FROM upd`,
    setAccount: `SELECT ${e.fn('set_account_budget')}($1, $2::timestamptz, $3::integer, $4::text, $5::timestamptz, $6::text)`,
    /**
     * $1 account, $2 now, $3 actor, $4 calls, $5 cents, $6 window seconds (all null: none): the
     * account's rate limit, its row made if it has none. Its window's count carries over.
     */
    setAccountRate: `WITH upd AS (INSERT INTO ${e.accounts} AS a (account_id, rate_requests, rate_cents, rate_window_sec, updated_at)
        VALUES ($1, $4::integer, $5::integer, $6::integer, $2::timestamptz)
        ON CONFLICT (account_id) DO UPDATE SET rate_requests = EXCLUDED.rate_requests, rate_cents = EXCLUDED.rate_cents,
          rate_window_sec = EXCLUDED.rate_window_sec, updated_at = EXCLUDED.updated_at
        RETURNING account_id)
      , led AS (INSERT INTO ${e.ledger} (at, account_id, kind, actor, metadata)
        SELECT $2::timestamptz, account_id, 'admin:account_rate_limit', $3::text,
          jsonb_build_object('requests', $4::integer, 'cents', $5::integer, 'window_sec', $6::integer) FROM upd)
      SELECT account_id FROM upd`,
    readAccount: `SELECT account_id, budget_cents, budget_period, date_part('epoch', budget_reset_at) * 1000 AS budget_reset_at,
        rate_requests, rate_cents, rate_window_sec,
        ${now.USED_MICROS}::float8 AS used_micros,
        ${accountHeldSum(e.holds, 'a.account_id', '$2::timestamptz')}::float8 AS held_micros
      FROM ${e.accounts} a WHERE account_id = $1`,
    /**
     * $1 filter column value, $2 from, $3 to, $4 bucket ('hour' | 'day' | null). A key's spend is what
     * its counter counts: its own rows and, for a pool parent, what its pooled children charged (not
     * their resets, which zero only the child's own counter). An account's spend leaves out key
     * resets' adjusts for the same reason: they zero the key's counter, not the account's.
     */
    spend: (column: 'principal_id' | 'subject' | 'account_id') => {
      // Two arms joined by UNION ALL, not one OR: each is then an index range (index-only on the
      // covering ledger indexes of migration 003). The pooled arm leaves out rows the first
      // counted, so the sum is the OR's exactly.
      const range = `FROM ${e.ledger} WHERE at >= $2::timestamptz AND at < $3::timestamptz`;
      const own = `SELECT at, amount_micros ${range} AND kind IN ${SPEND_KINDS} AND ${column} = $1${
        column === 'account_id' ? ` AND NOT (kind = 'adjust' AND principal_id IS NOT NULL)` : ''
      }`;
      const pooled =
        column === 'account_id'
          ? ''
          : ` UNION ALL SELECT at, amount_micros ${range} AND kind IN ('charge', 'settle', 'void')
        AND ${column} IS DISTINCT FROM $1 AND principal_id = ANY(ARRAY(SELECT c.id FROM ${t.keys} c
          JOIN ${t.keys} p ON p.id = c.pool_parent_id WHERE p.${column === 'subject' ? 'external_subject' : 'id'} = $1))`;
      return `SELECT
        CASE WHEN $4::text IS NULL THEN NULL ELSE date_part('epoch', date_trunc($4::text, at, 'UTC')) * 1000 END AS bucket,
        COALESCE(sum(amount_micros), 0)::float8 AS micros
      FROM (${own}${pooled}) AS spent
      GROUP BY 1 ORDER BY 1`;
    },
  };
}
