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
 */
export function preparedQuery(client: Queryable, enabled: boolean | undefined): Runner {
  if (!(enabled ?? looksLikePg(client))) return (s, params) => client.query(s.text, params);
  const named = client as unknown as {
    query(config: { name: string; text: string; values: unknown[] }): ReturnType<Queryable['query']>;
  };
  return (s, params) => named.query({ name: s.name, text: s.text, values: params });
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
