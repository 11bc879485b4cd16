/**
 * The one thing agentkey needs from a database client: pg's `query(text, params)`.
 * A `pg.Pool` fits as is; so does any object with that method (the 0.2.0 contract).
 */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the statement selects, as in pg's own types
  query(text: string, params?: unknown[]): Promise<{ rows: any[]; rowCount?: number | null }>;
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
