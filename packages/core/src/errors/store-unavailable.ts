import { unavailable } from './auth-errors.js';

/**
 * SQLSTATEs by which PostgreSQL says the table was never migrated (or migrated by an older
 * agentkey): a missing table, a missing engine function, a missing column.
 */
const UNMIGRATED: Readonly<Record<string, string>> = {
  '42P01': 'does not exist',
  '42883': "lacks the budget engine's functions",
  '42703': 'lacks columns this version needs',
};

/** PgBouncer's refusal of a client's startup parameter (pg's `options`, `statement_timeout`…). */
const POOLER_PARAMETER = /unsupported startup parameter:?\s*([\w.]+)?/i;

/** Seconds a caller should wait after the store failed: long enough for a pool to reconnect. */
const STORE_RETRY_AFTER_SEC = 1;

/**
 * The key store failed or timed out: the one `unavailable` that authorize, reserve, settle,
 * release and the gate's first-sight provisioning return (fail closed). The failure a newcomer
 * meets first, a table nobody migrated, says so and what to do; the driver's error stays the cause.
 */
export function storeUnavailable(cause: unknown, table: string) {
  const code = (cause as { code?: unknown } | null)?.code;
  const what = typeof code === 'string' ? UNMIGRATED[code] : undefined;
  const pooler = cause instanceof Error ? POOLER_PARAMETER.exec(cause.message) : null;
  if (pooler) {
    // Every call fails the same way until the pool changes: say which setting, not just "cannot answer".
    const parameter = pooler[1] ? ` ${pooler[1]}` : '';
    return unavailable(
      'The key store cannot answer.',
      STORE_RETRY_AFTER_SEC,
      new Error(
        `agentkey: the connection pooler refused the pool's startup parameter${parameter}: set it on the role or database (ALTER ROLE … SET …) instead, name the table with its schema rather than a search_path, or list it in PgBouncer's ignore_startup_parameters (README "Behind PgBouncer")`,
        { cause },
      ),
    );
  }
  if (what === undefined) return unavailable('The key store cannot answer.', STORE_RETRY_AFTER_SEC, cause);
  const detail = cause instanceof Error ? ` (${cause.message})` : '';
  return unavailable(
    // Safe to show a caller: names no table.
    'The key store cannot answer: its table is not migrated (run ak.migrate()).',
    STORE_RETRY_AFTER_SEC,
    new Error(`agentkey: table ${table} ${what}${detail}: run ak.migrate()`, { cause }),
  );
}
