import { randomBytes } from 'node:crypto';
import { AgentKey, type AgentKeyOptions, fromPGlite, type Queryable } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDb {
  /** A fresh schema; tables created in it never collide with another test file's. */
  schema: string;
  /** `schema.sdk_api_keys` */
  table: string;
  pool: Queryable;
  /** Another pool on the same database (server only): for cross-process races. */
  newPool(): pg.Pool;
  close(): Promise<void>;
}

export type Backend = 'postgres' | 'pglite';
export const BACKENDS: readonly Backend[] = ['postgres', 'pglite'];

export function databaseUrl(): string {
  return inject('databaseUrl');
}

/** A pg pool on the shared test database, searching only `schema`. */
export function serverPool(schema?: string, max = 10): pg.Pool {
  return new pg.Pool({
    connectionString: databaseUrl(),
    max,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
}

export async function openDb(backend: Backend = 'postgres'): Promise<TestDb> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  if (backend === 'pglite') {
    const db = new PGlite();
    const pool = fromPGlite(db);
    await pool.query(`CREATE SCHEMA ${schema}`);
    return {
      schema,
      table: `${schema}.sdk_api_keys`,
      pool,
      newPool() {
        throw new Error('PGlite has one connection: this test is server-only');
      },
      close: () => db.close(),
    };
  }
  const admin = serverPool();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const extra: pg.Pool[] = [];
  return {
    schema,
    table: `${schema}.sdk_api_keys`,
    pool: admin,
    newPool() {
      const pool = serverPool();
      extra.push(pool);
      return pool;
    },
    async close() {
      await Promise.all(extra.map((p) => p.end()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** A migrated AgentKey on a fresh schema. */
export async function openStore(
  backend: Backend = 'postgres',
  options: Partial<AgentKeyOptions> = {},
): Promise<{ db: TestDb; ak: AgentKey }> {
  const db = await openDb(backend);
  const ak = new AgentKey({ pool: db.pool, tableName: db.table, ...options });
  await ak.migrate();
  return { db, ak };
}

/** A clock tests move by hand. */
export function manualClock(start = new Date('2026-03-15T12:00:00Z')) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d: Date | string) => {
      t = new Date(d).getTime();
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}
