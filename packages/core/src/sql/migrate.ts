import { createHash } from 'node:crypto';
import type { Queryable } from '../db/queryable.js';
import { functionsSql } from './engine.js';
import type { TableNames } from './identifier.js';
import { engineNames } from './names.js';
import { renderFile } from './render.js';

/**
 * The numbered migrations (sql/migrations/), applied in order, each once. 001 is the whole schema
 * as agentkey 0.3.0 left it and only creates what is missing (IF NOT EXISTS), so a deployment made
 * before migrations were numbered (no version table) upgrades through it. A new migration is a new
 * file at the end of this list; a shipped one is never edited.
 */
const RATE_LIMITS = '002_rate_limits.sql';
const REFUSALS = '004_refusals.sql';
const MIGRATIONS = ['001_tables.sql', RATE_LIMITS, '003_console_indexes.sql', REFUSALS, '005_fillfactor.sql'];

/** The version table's row for the engine functions: re-created whenever their text changes. */
const FUNCTIONS = 'functions';

export interface SchemaStep {
  name: string;
  sql: string;
  checksum: string;
}

/** Every step migrate() may apply for `t`, rendered: the migrations, then the engine functions. */
export function schemaSteps(t: TableNames): SchemaStep[] {
  const step = (name: string, sql: string) => ({
    name,
    sql,
    checksum: createHash('sha256').update(sql).digest('hex'),
  });
  return [
    ...MIGRATIONS.map((file) => step(file, renderFile(`migrations/${file}`, t))),
    step(FUNCTIONS, functionsSql(t)),
  ];
}

/** What the version table records: step name → checksum. */
type Applied = Map<string, string>;

/** The steps `applied` lacks: migrations not yet run, and the functions when their text changed. */
function pending(steps: SchemaStep[], applied: Applied): SchemaStep[] {
  return steps.filter((s) =>
    s.name === FUNCTIONS ? applied.get(s.name) !== s.checksum : !applied.has(s.name),
  );
}

const CHANGED = 'agentkey: the schema changed while migrating';

/**
 * Brings the schema of `t` up to date. Reads the version table; when something is pending, sends
 * it as one multi-statement query: PostgreSQL runs it as one implicit transaction, so the advisory
 * lock serialises concurrent migrations (CREATE … IF NOT EXISTS alone races on the catalog) and a
 * failure leaves nothing half-applied. Under the lock the query first checks that the version table
 * still says what was read; if another migrate() got there first it rolls back, and this one reads
 * again (and then usually has nothing left to do).
 */
export async function migrate(pool: Queryable, t: TableNames): Promise<void> {
  const steps = schemaSteps(t);
  for (let attempt = 1; ; attempt++) {
    const { applied, todo } = await stepsToApply(pool, t, steps);
    if (todo.length === 0) return;
    try {
      await pool.query(applySql(t, applied, todo));
      return;
    } catch (error) {
      if (attempt >= 5 || !(error instanceof Error) || !error.message.startsWith(CHANGED)) throw error;
    }
  }
}

/** What the version table records, and the steps migrate() would apply now. */
export async function stepsToApply(
  pool: Queryable,
  t: TableNames,
  steps: SchemaStep[] = schemaSteps(t),
): Promise<{ applied: Applied; todo: SchemaStep[] }> {
  const { applied, intact } = await readState(pool, t);
  // A schema whose objects are gone although the version table lists them (a table dropped to
  // start over, a table-only restore without the functions) gets every step again: each one
  // only creates what is missing.
  return { applied, todo: intact ? pending(steps, applied) : steps };
}

/**
 * What the version table records, and whether the objects it vouches for are all there: the
 * tables, the engine's result type and its functions (none of them overloaded, so `to_regproc`
 * finds each by name).
 */
async function readState(pool: Queryable, t: TableNames): Promise<{ applied: Applied; intact: boolean }> {
  const n = engineNames(t);
  const tables = [t.keys, n.accounts, n.holds, n.ledger, n.idempotency, n.requests];
  const functions = ['account_moved', 'ledger_append_only', 'charge', 'close_hold', 'void_request'].map(n.fn);
  const { rows } = await pool.query(
    `SELECT to_regclass($1) IS NOT NULL AS versioned,
       (SELECT bool_and(to_regclass(x) IS NOT NULL) FROM unnest($2::text[]) AS x)
       AND (SELECT bool_and(to_regproc(f) IS NOT NULL) FROM unnest($3::text[]) AS f)
       AND to_regtype($4) IS NOT NULL AS intact, to_regclass($5) IS NOT NULL AS windows,
       to_regclass($6) IS NOT NULL AND to_regclass($7) IS NOT NULL AS refusals`,
    [n.schemaVersion, tables, functions, n.fn('engine_row'), n.rateWindows, n.refusals, n.consoleOverview],
  );
  if (!rows[0]?.versioned) return { applied: new Map(), intact: true };
  const found = await pool.query(`SELECT name, checksum FROM ${n.schemaVersion}`);
  const applied: Applied = new Map(
    found.rows.map((r: { name: string; checksum: string }) => [r.name, r.checksum]),
  );
  // 002's table is vouched for only once 002 is recorded: a 001 deployment is intact without it.
  const windows = rows[0].windows === true || !applied.has(RATE_LIMITS);
  // Likewise 004's tables.
  const refusals = rows[0].refusals === true || !applied.has(REFUSALS);
  return { applied, intact: rows[0].intact === true && windows && refusals };
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The record of `applied` as the version table's check compares it (NULL when empty). */
function fingerprint(applied: Applied): string {
  const entries = [...applied].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? 'NULL' : literal(entries.map(([n, c]) => `${n}=${c}`).join(','));
}

function applySql(t: TableNames, applied: Applied, todo: SchemaStep[]): string {
  const table = engineNames(t).schemaVersion;
  // Keyed by the resolved name: `keys` and `public.keys` migrating at once must serialise too.
  const head = `SELECT pg_advisory_xact_lock(hashtextextended('agentkey:migrate:' || ${t.resolvedName}, 0));
CREATE TABLE IF NOT EXISTS ${table} (
  name TEXT PRIMARY KEY,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${table} IS 'agentkey: the migrations applied to this deployment, and the checksum of its engine functions';
DO $check$ BEGIN
  IF (SELECT string_agg(name || '=' || checksum, ',' ORDER BY name COLLATE "C") FROM ${table}) IS DISTINCT FROM ${fingerprint(applied)}
  THEN RAISE EXCEPTION '${CHANGED}'; END IF;
END $check$;`;
  const body = todo.map(
    (s) => `${s.sql}
INSERT INTO ${table} (name, checksum) VALUES (${literal(s.name)}, ${literal(s.checksum)})
  ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now();`,
  );
  return [head, ...body].join('\n');
}
