import { createHash } from 'node:crypto';
import { type Queryable, renderSql, type TableNames } from '@agentkey/core';
import { SQL_FILES } from './embedded.js';
import { accessNames } from './names.js';

/**
 * The access package's numbered migrations (sql/migrations/), applied in order, each once, recorded
 * in its own version table named from the keys table. A new migration is a new file at the end of
 * this list; a shipped one is never edited.
 */
export const MIGRATIONS = ['001_access.sql', '002_slip_tokens.sql'] as const;

const CHANGED = 'agentkey access: the schema changed while migrating';
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

function rendered(file: string, t: TableNames): string {
  const text = SQL_FILES[`migrations/${file}`];
  if (text === undefined)
    throw new Error(`agentkey access: no SQL file ${file} (regenerate sql/embedded.ts)`);
  return renderSql(text, t);
}

/**
 * Brings the access tables of `t` up to date, as core's migrate() does its own: read what the version
 * table lists, then send what is missing as one multi-statement query (one implicit transaction)
 * under an advisory lock, which first checks that nobody applied those steps meanwhile; if someone
 * did, it rolls back and this call reads again. Safe when several processes run it at once.
 */
export async function migrateAccess(pool: Queryable, t: TableNames): Promise<void> {
  const { version } = accessNames(t);
  for (let attempt = 1; ; attempt++) {
    const exists = await pool.query('SELECT to_regclass($1) IS NOT NULL AS found', [version]);
    const applied = new Set<string>();
    if (exists.rows[0]?.found) {
      const { rows } = await pool.query(`SELECT name FROM ${version}`);
      for (const r of rows as Array<{ name: string }>) applied.add(r.name);
    }
    const todo = MIGRATIONS.filter((m) => !applied.has(m));
    if (todo.length === 0) return;
    const steps = todo.map((name) => {
      const sql = rendered(name, t);
      const checksum = createHash('sha256').update(sql).digest('hex');
      return `${sql}
INSERT INTO ${version} (name, checksum) VALUES (${literal(name)}, ${literal(checksum)});`;
    });
    const head = `SELECT pg_advisory_xact_lock(hashtextextended('agentkey:access:migrate:' || ${t.resolvedName}, 0));
CREATE TABLE IF NOT EXISTS ${version} (
  name TEXT PRIMARY KEY,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
DO $check$ BEGIN
  IF EXISTS (SELECT 1 FROM ${version} WHERE name IN (${todo.map(literal).join(', ')}))
  THEN RAISE EXCEPTION '${CHANGED}'; END IF;
END $check$;`;
    try {
      await pool.query([head, ...steps].join('\n'));
      return;
    } catch (error) {
      if (attempt >= 5 || !(error instanceof Error) || !error.message.startsWith(CHANGED)) throw error;
    }
  }
}
