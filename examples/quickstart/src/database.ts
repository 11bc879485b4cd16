/**
 * The main job's database: DATABASE_URL when set, else an embedded PGlite. A server that cannot
 * be reached is one line saying what to do, never a driver's stack trace.
 */

import { fromPGlite, type Queryable } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface Database {
  pool: Queryable;
  label: string;
  close: () => Promise<void>;
}

/** The database, or null after printing why it cannot be used. */
export async function openDatabase(): Promise<Database | null> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = new PGlite();
    return {
      pool: fromPGlite(db),
      label: 'embedded PGlite (in memory; set DATABASE_URL to use your own)',
      close: () => db.close(),
    };
  }
  const where = withoutSecrets(url);
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    console.error(
      `agentkey quickstart: cannot reach the database at ${where} (${why(error)}): check DATABASE_URL or unset it to use embedded PGlite`,
    );
    return null;
  }
  return { pool, label: `PostgreSQL at ${where}`, close: () => pool.end() };
}

/** The URL as it may be printed: no password, no query (which may carry one). */
export function withoutSecrets(url: string): string {
  if (!URL.canParse(url)) return 'DATABASE_URL (not a URL)';
  const u = new URL(url);
  return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
}

/** The failure in a few words: a socket error's code, or PostgreSQL's SQLSTATE and message. */
function why(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `${code}: ${String(message)}`;
  if (typeof code === 'string') return code;
  return typeof message === 'string' && message ? message : String(error);
}
