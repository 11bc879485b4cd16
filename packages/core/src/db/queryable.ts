import { createHash } from 'node:crypto';

/**
 * The one thing agentkey needs from a database client: pg's `query(text, params)`.
 * A `pg.Pool` fits as is; so does any object with that method (the 0.2.0 contract).
 */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the statement selects, as in pg's own types
  query(text: string, params?: unknown[]): Promise<{ rows: any[]; rowCount?: number | null }>;
}

/** SQL text with a stable name, for clients that keep prepared statements. */
export interface Statement {
  readonly text: string;
  readonly name: string;
}

export function statement(text: string): Statement {
  return { text, name: `agentkey_${createHash('sha256').update(text).digest('hex').slice(0, 24)}` };
}

/**
 * A PostgreSQL data exception (SQLSTATE class 22: a value the statement could not take). The
 * server refused the statement, so nothing it would have written was committed.
 */
export function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && code.startsWith('22');
}

export type Runner = (statement: Statement, params: unknown[]) => ReturnType<Queryable['query']>;

/**
 * pg (Pool or Client) also takes `{ name, text, values }`: a named statement is parsed and planned
 * once per connection instead of on every call, which is most of the cost of a long statement.
 * Other clients (PGlite, stubs, poolers without statement support) get the plain text.
 *
 * A pooler in transaction mode without prepared-statement support (PgBouncer before 1.21, or
 * later without `max_prepared_statements`) hands each transaction another server connection: the
 * statement pg parsed on one is missing on the next (26000) or already there (42P05). Either way
 * the server refused it before running it, so nothing ran. Left to the default, the runner then
 * sends plain text from that call on (the failed call too); with `preparedStatements: true` the
 * call fails with `PreparedStatementLostError`. Both say so once through `report`, naming the option.
 */
export function preparedQuery(
  client: Queryable,
  enabled: boolean | undefined,
  report: (error: unknown, context: string) => void = () => {},
): Runner {
  const plain: Runner = (s, params) => client.query(s.text, params);
  if (!(enabled ?? looksLikePg(client))) return plain;
  const named = client as unknown as {
    query(config: { name: string; text: string; values: unknown[] }): ReturnType<Queryable['query']>;
  };
  let lost = false;
  let told = false;
  return async (s, params) => {
    if (lost) return plain(s, params);
    try {
      return await named.query({ name: s.name, text: s.text, values: params });
    } catch (error) {
      if (!lostStatement(error, s)) throw error;
      const fallBack = enabled !== true;
      const failure = new PreparedStatementLostError(error, fallBack);
      if (!told) report(failure, 'preparedStatements');
      told = true;
      if (!fallBack) throw failure;
      lost = true;
      return plain(s, params);
    }
  };
}

/** SQLSTATEs of a named statement missing on this server connection, or there already. */
const LOST_STATEMENT_CODES: ReadonlySet<string> = new Set(['26000', '42P05']);

function lostStatement(error: unknown, s: Statement): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return (
    typeof e?.code === 'string' && LOST_STATEMENT_CODES.has(e.code) && String(e.message).includes(s.name)
  );
}

/**
 * The pool lost a prepared statement between transactions: a pooler in transaction mode that does
 * not keep them sits in front of PostgreSQL. The statement never ran.
 */
export class PreparedStatementLostError extends Error {
  override readonly name = 'PreparedStatementLostError';
  /** The server's SQLSTATE: 26000 (missing) or 42P05 (already there). */
  readonly code: string;
  constructor(cause: unknown, fellBack = false) {
    const sqlstate = String((cause as { code?: unknown }).code);
    super(
      fellBack
        ? `agentkey: the pool lost a prepared statement (SQLSTATE ${sqlstate}; a pooler in transaction mode, such as PgBouncer before 1.21, sits in front of PostgreSQL): plain statements from now on; set preparedStatements: false to start that way`
        : `agentkey: the pool lost a prepared statement (SQLSTATE ${sqlstate}): a pooler in transaction mode, such as PgBouncer before 1.21, cannot keep them; set preparedStatements: false`,
      { cause },
    );
    this.code = sqlstate;
  }
}

function looksLikePg(client: Queryable): boolean {
  const c = client as unknown as Record<string, unknown>;
  // pg.Pool has totalCount; pg.Client has connectionParameters. Anything else gets plain text.
  return typeof c.connect === 'function' && ('totalCount' in c || 'connectionParameters' in c);
}

/** The part of a PGlite instance the adapter uses (structural: core does not depend on PGlite). */
export interface PGliteLike {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query(text: string, params?: unknown[]): Promise<{ rows: any[]; affectedRows?: number }>;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  exec(text: string): Promise<Array<{ rows: any[]; affectedRows?: number }>>;
}

/**
 * Runs AgentKey on an embedded PGlite database: `new AgentKey({ pool: fromPGlite(db) })`.
 * As with pg, a query without parameters may hold several statements (one implicit transaction).
 */
export function fromPGlite(db: PGliteLike): Queryable {
  return {
    async query(text, params) {
      if (params === undefined || params.length === 0) {
        const results = await db.exec(text);
        const last = results[results.length - 1];
        return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? 0 };
      }
      const result = await db.query(text, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  };
}
