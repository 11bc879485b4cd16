import { engineNames } from './engine.js';
import type { TableNames } from './identifier.js';

/** Micros used by the keys-table row `r`, honouring a hand-edited budget_used_cents. */
const usedOf = (r: string) =>
  `(CASE WHEN ${r}.budget_used_micros IS NOT NULL AND (${r}.budget_used_micros + 9999) / 10000 = COALESCE(${r}.budget_used_cents, 0) THEN ${r}.budget_used_micros ELSE COALESCE(${r}.budget_used_cents, 0)::bigint * 10000 END)`;

/** Kinds whose amounts add up to a period's spend (the counter). */
export const SPEND_KINDS = `('charge', 'settle', 'adjust')`;

/** Admin statements. Each writes its audit row in the same statement as the change. */
export function adminStatements(t: TableNames) {
  const e = engineNames(t);
  const audit = (source: string, kind: string, extra = `NULL::jsonb`) =>
    `INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, actor, metadata)
       SELECT $2::timestamptz, id, external_subject, account_id, '${kind}', $3::text, ${extra} FROM ${source}`;
  return {
    /** $1 row id, $2 now, $3 actor. */
    auditRow: (
      kind: string,
    ) => `WITH r AS (SELECT id, external_subject, account_id FROM ${t.keys} WHERE id = $1)
      ${audit('r', kind)}`,
    /** $1 id, $2 now, $3 actor, $4 micros to add to the cap (whole cents × 10000 via budget_cents). */
    topUpKey: `WITH upd AS (UPDATE ${t.keys} SET budget_cents = budget_cents + $4::integer
        WHERE id = $1 AND budget_cents IS NOT NULL RETURNING id, external_subject, account_id, budget_cents)
      , led AS (${audit('upd', 'admin:topup', `jsonb_build_object('cents', $4::integer, 'budget_cents', budget_cents)`)})
      SELECT id FROM upd`,
    topUpAccount: `WITH upd AS (UPDATE ${e.accounts} SET budget_cents = budget_cents + $4::integer, updated_at = $2::timestamptz
        WHERE account_id = $1 AND budget_cents IS NOT NULL RETURNING account_id, budget_cents)
      , led AS (INSERT INTO ${e.ledger} (at, account_id, kind, actor, metadata)
        SELECT $2::timestamptz, account_id, 'admin:topup', $3::text,
          jsonb_build_object('cents', $4::integer, 'budget_cents', budget_cents) FROM upd)
      SELECT account_id FROM upd`,
    /** Zero the period's spend, appending the opposite amount so ledger sums keep equalling the counter. */
    resetKey: `WITH o AS (SELECT id, ${usedOf('k')} AS before FROM ${t.keys} k WHERE id = $1 FOR UPDATE)
      , upd AS (UPDATE ${t.keys} k SET budget_used_micros = 0, budget_used_cents = 0 FROM o WHERE k.id = o.id
        RETURNING k.id, k.external_subject, k.account_id, o.before)
      , led AS (INSERT INTO ${e.ledger} (at, principal_id, subject, account_id, kind, amount_micros, actor)
        SELECT $2::timestamptz, id, external_subject, account_id, 'adjust', -before, $3::text FROM upd)
      SELECT id FROM upd`,
    resetAccount: `WITH o AS (SELECT account_id, ${usedOf('a')} AS before FROM ${e.accounts} a WHERE account_id = $1 FOR UPDATE)
      , upd AS (UPDATE ${e.accounts} a SET budget_used_micros = 0, budget_used_cents = 0, updated_at = $2::timestamptz
        FROM o WHERE a.account_id = o.account_id RETURNING a.account_id, o.before)
      , led AS (INSERT INTO ${e.ledger} (at, account_id, kind, amount_micros, actor)
        SELECT $2::timestamptz, account_id, 'adjust', -before, $3::text FROM upd)
      SELECT account_id FROM upd`,
    setAccount: `SELECT ${e.fn('set_account_budget')}($1, $2::timestamptz, $3::integer, $4::text, $5::timestamptz, $6::text)`,
    readAccount: `SELECT account_id, budget_cents, budget_period, date_part('epoch', budget_reset_at) * 1000 AS budget_reset_at,
        ${usedOf('a')}::float8 AS used_micros,
        (SELECT COALESCE(sum(amount_micros), 0) FROM ${e.holds} h WHERE h.account_id = a.account_id AND h.state = 'open'
          AND h.expires_at > $2::timestamptz)::float8 AS held_micros
      FROM ${e.accounts} a WHERE account_id = $1`,
    /** $1 filter column value, $2 from, $3 to, $4 bucket ('hour' | 'day' | null). */
    spend: (column: 'principal_id' | 'subject' | 'account_id') => `SELECT
        CASE WHEN $4::text IS NULL THEN NULL ELSE date_part('epoch', date_trunc($4::text, at, 'UTC')) * 1000 END AS bucket,
        COALESCE(sum(amount_micros), 0)::float8 AS micros
      FROM ${e.ledger} WHERE ${column} = $1 AND at >= $2::timestamptz AND at < $3::timestamptz AND kind IN ${SPEND_KINDS}
      GROUP BY 1 ORDER BY 1`,
    /** $1 hold id. */
    readHold: `SELECT id, principal_id, amount_micros::float8 AS amount_micros, state,
        date_part('epoch', expires_at) * 1000 AS expires_at FROM ${e.holds} WHERE id = $1::bigint`,
  };
}
