/**
 * The gateway's database: PostgreSQL from DATABASE_URL, else an embedded PGlite kept in
 * `<data>/pglite` (it survives restarts). A server that cannot be reached is one line naming
 * DATABASE_URL, never a driver's stack trace, and never its password.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromPGlite, type Queryable } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { ConfigError } from './config.js';

export interface Database {
  pool: Queryable;
  /** For the banner: where the data is. */
  label: string;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(url: string | null, dataDir: string): Promise<Database> {
  if (url === null) {
    const dir = join(dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    const db = new PGlite(dir);
    try {
      await db.waitReady;
    } catch (error) {
      throw new ConfigError(
        `cannot open the embedded database in ${dir} (${why(error)}): use another --data DIR`,
      );
    }
    return {
      pool: fromPGlite(db),
      label: `embedded PGlite in ${dir} (survives restarts; set DATABASE_URL to use your PostgreSQL)`,
      embedded: true,
      close: () => db.close(),
    };
  }
  const where = withoutSecrets(url);
  const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5_000 });
  // Idle connections a restarting server drops must not crash the gateway; AgentKey reports the rest.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw new ConfigError(`cannot reach the database at ${where} (${why(error)}): check DATABASE_URL`);
  }
  return { pool, label: `PostgreSQL at ${where}`, embedded: false, close: () => pool.end() };
}

/** The URL as it may be printed: no password, no query (which may carry one). */
export function withoutSecrets(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
}

/** A failure in a few words: a socket error's code, or PostgreSQL's SQLSTATE and message. */
export function why(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `${code}: ${String(message)}`;
  if (typeof code === 'string') return code;
  return typeof message === 'string' && message ? message.split('\n')[0]! : String(error);
}
