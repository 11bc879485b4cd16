import { existsSync } from 'node:fs';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { PGBOUNCER_ENV, startPgBouncer } from './pgbouncer.js';

const LOCAL_DATABASE = 'postgres://postgres@127.0.0.1:5432/test';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** Where AgentKey's pools connect: `databaseUrl`, or a private PgBouncer in front of it. */
    poolUrl: string;
    redisUrl: string;
  }
}

/**
 * Finds the PostgreSQL every test file shares (each file then works in its own schema):
 * DATABASE_URL first; else a testcontainers PostgreSQL when a Docker engine answers; else the
 * local default port; else a message saying how to provide one.
 */
export default async function setup(project: TestProject) {
  const stops: Array<() => Promise<unknown>> = [];
  let db: Source | undefined = fromEnv('DATABASE_URL');
  let redis: Source | undefined = fromEnv('REDIS_URL');
  if ((!db || !redis) && dockerMayAnswer()) {
    const started = await startContainers(!db, !redis).catch(() => null);
    if (started) {
      if (started.databaseUrl) db ??= { url: started.databaseUrl, from: 'testcontainers' };
      if (started.redisUrl) redis ??= { url: started.redisUrl, from: 'testcontainers' };
      stops.push(...started.stops);
    }
  }
  db ??= { url: LOCAL_DATABASE, from: 'local default' };
  redis ??= { url: LOCAL_REDIS, from: 'local default' };
  const { url: databaseUrl } = db;
  const { url: redisUrl } = redis;
  await checkDatabase(databaseUrl);
  let poolUrl = databaseUrl;
  // A project with AGENTKEY_TEST_PGBOUNCER=1 in its env (vitest.config.ts) runs through a private
  // PgBouncer in transaction pooling mode; sessions the tests hold on purpose stay direct (db.ts).
  if (project.config.env?.[PGBOUNCER_ENV] === '1' || process.env[PGBOUNCER_ENV] === '1') {
    const bouncer = await startPgBouncer(databaseUrl);
    stops.push(bouncer.stop);
    poolUrl = bouncer.url;
  }
  console.log(
    sourcesLine(db, redis) + (poolUrl === databaseUrl ? '' : `, through PgBouncer ${redact(poolUrl)}`),
  );
  project.provide('databaseUrl', databaseUrl);
  project.provide('poolUrl', poolUrl);
  project.provide('redisUrl', redisUrl);
  return async () => {
    for (const stop of stops) await stop();
  };
}

/** A service's URL and where it came from, for the line that says what a run used. */
export interface Source {
  url: string;
  from: 'DATABASE_URL' | 'REDIS_URL' | 'testcontainers' | 'local default';
}

function fromEnv(name: 'DATABASE_URL' | 'REDIS_URL'): Source | undefined {
  const url = process.env[name];
  return url ? { url, from: name } : undefined;
}

/** One line naming the database and Redis a test run uses, without passwords. */
export function sourcesLine(db: Source, redis: Source): string {
  return `agentkey tests: PostgreSQL ${redact(db.url)} (${db.from}), Redis ${redact(redis.url)} (${redis.from})`;
}

/** The URL without its password (`user:***@`), and without a query, which may carry one. */
export function redact(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@').replace(/\?.*$/, '');
}

function dockerMayAnswer(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

async function startContainers(wantDb: boolean, wantRedis: boolean) {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient(); // throws when no engine answers
  const result: { databaseUrl?: string; redisUrl?: string; stops: Array<() => Promise<unknown>> } = {
    stops: [],
  };
  if (wantDb) {
    const db = await new GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    result.databaseUrl = `postgres://postgres@${db.getHost()}:${db.getMappedPort(5432)}/test`;
    result.stops.push(() => db.stop());
  }
  if (wantRedis) {
    const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    result.redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
    result.stops.push(() => redis.stop());
  }
  return result;
}

async function checkDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `agentkey tests need PostgreSQL and could not reach ${redact(url)} (${(error as Error).message}).\n` +
        'Provide one: set DATABASE_URL=postgres://user@host:port/db, or start a Docker engine (testcontainers ' +
        'then runs postgres:16), or run PostgreSQL on 127.0.0.1:5432 with a database named "test".',
    );
  } finally {
    await client.end().catch(() => {});
  }
}
