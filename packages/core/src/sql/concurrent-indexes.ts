import type { Queryable } from '../db/queryable.js';
import { AgentKeyInputError } from '../errors/errors.js';
import type { TableNames } from './identifier.js';
import { stepsToApply } from './migrate.js';

/** A migration's index statements: each stands alone, so each may run outside a transaction. */
const INDEX_STATEMENT = /^(?:CREATE INDEX IF NOT EXISTS|DROP INDEX IF EXISTS)\s[^;]*;/gm;
const CREATE = /^CREATE INDEX IF NOT EXISTS ("[^"]+") ON ((?:"[^"]+"\.)?"[^"]+")/;

/** The `migrate()` options: `{ concurrently?: boolean }`, else AgentKeyInputError. */
export function migrateConcurrently(options: unknown): boolean {
  if (options === undefined) return false;
  const concurrently = (options as { concurrently?: unknown } | null)?.concurrently;
  if (
    !options ||
    typeof options !== 'object' ||
    (concurrently !== undefined && typeof concurrently !== 'boolean')
  ) {
    throw new AgentKeyInputError('migrate options must be { concurrently?: boolean }', 'concurrently');
  }
  return concurrently === true;
}

/** What `buildIndexesConcurrently` did with one index of a pending migration. */
export interface IndexStep {
  index: string;
  /** built: CREATE INDEX CONCURRENTLY ran; rebuilt: an invalid leftover was dropped first; dropped:
   * DROP INDEX CONCURRENTLY ran; kept: it was already there and valid (or already gone); later: its
   * table comes with the migration itself, so the migration builds it on an empty table. */
  done: 'built' | 'rebuilt' | 'dropped' | 'kept' | 'later';
}

/**
 * The index statements of the migrations `migrate()` would apply, run first and one at a time as
 * CREATE / DROP INDEX CONCURRENTLY, so building them on a large table never blocks its writes (a
 * plain CREATE INDEX holds a SHARE lock for the whole build: every charge waits). They keep their
 * names and are all IF [NOT] EXISTS, so the migration that follows finds them done and applies the
 * rest in its one transaction. An invalid index a failed concurrent build left behind is dropped
 * and built again; one another session is building now stops this call with a clear error.
 */
export async function buildIndexesConcurrently(pool: Queryable, t: TableNames): Promise<IndexStep[]> {
  const { todo } = await stepsToApply(pool, t);
  // The schema part of the table's name (`"s".` or nothing): an index lives beside its table.
  const schema = t.derived('').replace(/"[^"]*"$/, '');
  const done: IndexStep[] = [];
  for (const step of todo) {
    for (const [text] of step.sql.matchAll(INDEX_STATEMENT)) {
      if (text.startsWith('DROP')) {
        const index = text
          .replace(/^DROP INDEX IF EXISTS\s+/, '')
          .replace(/;$/, '')
          .trim();
        const gone = await pool.query('SELECT to_regclass($1) IS NULL AS gone', [index]);
        if (gone.rows[0]?.gone) {
          done.push({ index, done: 'kept' });
          continue;
        }
        await pool.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
        done.push({ index, done: 'dropped' });
        continue;
      }
      const named = CREATE.exec(text);
      if (!named) throw new Error(`agentkey: cannot read the index statement ${text.slice(0, 80)}`);
      const index = `${schema}${named[1]}`;
      done.push({ index, done: await buildOne(pool, text, index, named[2]!) });
    }
  }
  return done;
}

async function buildOne(
  pool: Queryable,
  text: string,
  index: string,
  table: string,
): Promise<IndexStep['done']> {
  const { rows } = await pool.query(
    `SELECT to_regclass($1) IS NOT NULL AS table_there,
       (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($2)) AS valid,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index WHERE index_relid = to_regclass($2)) AS building`,
    [table, index],
  );
  const state = rows[0] as { table_there: boolean; valid: boolean | null; building: boolean };
  if (!state.table_there) return 'later';
  if (state.valid === true) return 'kept';
  if (state.building) {
    throw new AgentKeyInputError(
      `agentkey: another session is building ${index} now; run migrate again when it has finished`,
      'concurrently',
    );
  }
  const leftover = state.valid === false;
  if (leftover) await pool.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
  await pool.query(text.replace(/^CREATE INDEX IF NOT EXISTS/, 'CREATE INDEX CONCURRENTLY IF NOT EXISTS'));
  return leftover ? 'rebuilt' : 'built';
}
