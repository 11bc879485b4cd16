import { randomBytes } from 'node:crypto';
import { AgentKey, type AgentKeyOptions, fromPGlite, type Queryable } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { expect, inject } from 'vitest';

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

/**
 * Holds `lockSql`'s row locks in another session (an open transaction, as a slow writer would)
 * while `blocked` and `free` run: every `free` call must finish while `blocked` still waits. Then
 * the session commits and `blocked`'s answer is returned.
 */
export async function whileLockedElsewhere<T, U>(
  db: TestDb,
  lockSql: string,
  params: unknown[],
  blocked: () => Promise<T>,
  free: () => Promise<U>,
): Promise<{ blocked: T; free: U }> {
  const session = await db.newPool().connect();
  let open = true;
  const commit = async () => {
    if (open) {
      open = false;
      await session.query('COMMIT');
    }
  };
  try {
    await session.query('BEGIN');
    await session.query(lockSql, params);
    let done = false;
    const waiting = blocked().finally(() => {
      done = true;
    });
    const freed = await free();
    expect(done).toBe(false);
    await commit();
    return { blocked: await waiting, free: freed };
  } finally {
    await commit();
    session.release();
  }
}

/** A migrated store on the server and two AgentKeys on their own pools: two processes. */
export async function twoProcesses(): Promise<{ db: TestDb; a: AgentKey; b: AgentKey }> {
  const { db } = await openStore('postgres');
  return {
    db,
    a: new AgentKey({ pool: db.newPool(), tableName: db.table }),
    b: new AgentKey({ pool: db.newPool(), tableName: db.table }),
  };
}
