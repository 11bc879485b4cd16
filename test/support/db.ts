import { randomBytes } from 'node:crypto';
import { AgentKey, type AgentKeyOptions, fromPGlite, type Queryable } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { COUNTER_ON, testCounter } from './counter.js';
import { throughPgBouncer } from './pgbouncer.js';

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
/** Through PgBouncer only the server runs: PGlite has no pooler in front of it. */
export const BACKENDS: readonly Backend[] = throughPgBouncer() ? ['postgres'] : ['postgres', 'pglite'];

/** The shared test database itself, never through a pooler. */
export function databaseUrl(): string {
  return inject('databaseUrl');
}

/** Where AgentKey's pools connect: the database, or the private PgBouncer in front of it. */
export function poolUrl(): string {
  return inject('poolUrl');
}

/**
 * A pg pool on the shared test database (through the PgBouncer when the run has one), or, given a
 * `schema`, a direct pool searching only `schema`: a startup search_path is session state, which
 * PgBouncer in transaction mode refuses (the README's deployment notes: name the table with its schema).
 */
export function serverPool(schema?: string, max = 10): pg.Pool {
  if (schema)
    return new pg.Pool({ connectionString: databaseUrl(), max, options: `-c search_path=${schema}` });
  return new pg.Pool({ connectionString: poolUrl(), max });
}

/** A pool straight to the database, for sessions a test holds on purpose (session advisory locks). */
export function directPool(max = 10): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl(), max });
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
      // A test may have ended one itself (a pool that went away): pg refuses a second end.
      await Promise.all(extra.filter((p) => !p.ended).map((p) => p.end()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/**
 * The stores tests build get a long deadline: the stress tests pile hundreds of calls on one row
 * of a 2-core machine running other suites, and test what is charged, not how fast. Tests of the
 * deadline itself set their own (packages/core/test/deadline.test.ts, in-doubt.test.ts, faults/).
 */
export const STRESS_TIMEOUT_MS = 30_000;

/** A migrated AgentKey on a fresh schema. */
export async function openStore(
  backend: Backend = 'postgres',
  options: Partial<AgentKeyOptions> = {},
): Promise<{ db: TestDb; ak: AgentKey }> {
  const db = await openDb(backend);
  const ak = new AgentKey({
    pool: db.pool,
    tableName: db.table,
    timeoutMs: STRESS_TIMEOUT_MS,
    ...withCounter(db),
    ...options,
  });
  await ak.migrate();
  return { db, ak };
}

const prefixes = new WeakMap<TestDb, string>();
/** The relay's secret for every store of this run (counter.ts: processes of one deployment share it). */
const RELAY_SECRET = randomBytes(24).toString('hex');

/**
 * With `AGENTKEY_TEST_COUNTER=redis` (counter.ts), a Redis counter for a store on `db`, closed
 * with it: the suites run a second time with the counter in front of the same PostgreSQL.
 */
export function withCounter(db: TestDb): Partial<AgentKeyOptions> {
  if (!COUNTER_ON) return {};
  // Stores on one database share one prefix: as processes of one deployment share one Redis.
  // With the relay on: stores that find a row held by another of them hand it their lean charges.
  const { counter, close, prefix } = testCounter(undefined, {
    relay: { secret: RELAY_SECRET },
    ...(prefixes.has(db) ? { prefix: prefixes.get(db) } : {}),
  });
  prefixes.set(db, prefix);
  const closeDb = db.close;
  db.close = async () => {
    close();
    await closeDb();
  };
  return { counter };
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
    a: new AgentKey({
      pool: db.newPool(),
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      ...withCounter(db),
    }),
    b: new AgentKey({
      pool: db.newPool(),
      tableName: db.table,
      timeoutMs: STRESS_TIMEOUT_MS,
      ...withCounter(db),
    }),
  };
}

/**
 * Parks another process's statements between their snapshot and their lock on row `rowId` of
 * `db.table`, so a test can commit a change in that window — the one race a FOR UPDATE must get
 * right. The parked process connects as its own role (row-level security binds no superuser);
 * the table's policy makes its scans of that row wait on an advisory lock the test holds.
 */
export async function snapshotWindow(db: TestDb, rowId: number) {
  const role = `${db.schema}_parked`;
  const gate = `${db.schema}.park_scan`;
  const lockId = 73_117;
  const sql = (text: string) => db.pool.query(text);
  await sql(`CREATE ROLE ${role} LOGIN`);
  await sql(`GRANT USAGE ON SCHEMA ${db.schema} TO ${role}`);
  await sql(`GRANT ALL ON ALL TABLES IN SCHEMA ${db.schema} TO ${role}`);
  await sql(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${db.schema} TO ${role}`);
  await sql(`CREATE FUNCTION ${gate}(row_id integer) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
      IF row_id = ${Number(rowId)} AND current_user = '${role}' THEN
        PERFORM pg_advisory_lock_shared(${lockId});
        PERFORM pg_advisory_unlock_shared(${lockId});
      END IF;
      RETURN true;
    END $f$`);
  await sql(`ALTER TABLE ${db.table} ENABLE ROW LEVEL SECURITY`);
  await sql(`CREATE POLICY park_scan ON ${db.table} USING (${gate}(id))`);
  const url = new URL(databaseUrl());
  url.username = role;
  url.password = '';
  const parkedPool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  // A session lock: its session must stay put, so straight to the database, never through a pooler.
  const direct = directPool(1);
  const holder = await direct.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [lockId]);
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    await holder.query('SELECT pg_advisory_unlock($1)', [lockId]);
    holder.release();
    await direct.end();
  };
  return {
    /** A pool whose statements park on the row until `release`. */
    pool: parkedPool,
    /** Resolves once a parked statement waits in the window. */
    async parked(): Promise<void> {
      for (let i = 0; i < 500; i++) {
        const { rows } = await db.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
          [role],
        );
        if (rows[0].n > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error('no statement parked in the window within 5 s');
    },
    release,
    async close(): Promise<void> {
      await release();
      await parkedPool.end();
      await sql(`DROP POLICY park_scan ON ${db.table}`);
      await sql(`ALTER TABLE ${db.table} DISABLE ROW LEVEL SECURITY`);
      await sql(`DROP OWNED BY ${role}`);
      await sql(`DROP ROLE ${role}`);
    },
  };
}
