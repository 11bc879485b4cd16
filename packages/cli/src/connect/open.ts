import { mkdirSync } from 'node:fs';
import { AgentKey, fromPGlite, type Queryable } from '@agentkey/core';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { lockFolder } from './folder-lock.js';
import type { Target } from './target.js';

/** How long a command waits to connect before it says the database is unreachable. */
export const CONNECT_TIMEOUT_MS = 5000;
/** Every store call's deadline. */
const STORE_TIMEOUT_MS = 15_000;

export interface OpenStore {
  ak: AgentKey;
  /** What `ak` runs on: the access tables (tools, requests, audit) live beside its keys table. */
  pool: Queryable;
  close(): Promise<void>;
}

/** One connection is all a command needs (and all a gateway's published URL may take). */
export async function openStore(target: Target, report: (error: unknown) => void): Promise<OpenStore> {
  const onError = (error: unknown) => report(error);
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: 1,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 1000,
      allowExitOnIdle: true,
    });
    const ak = new AgentKey({ pool, tableName: target.table, timeoutMs: STORE_TIMEOUT_MS, onError });
    return { ak, pool, close: () => pool.end() };
  }
  mkdirSync(target.dir, { recursive: true });
  const unlock = target.lock ? lockFolder(target.lock, target.shown) : () => {};
  try {
    const db = await PGlite.create(target.dir);
    const pglite = fromPGlite(db);
    const ak = new AgentKey({ pool: pglite, tableName: target.table, timeoutMs: STORE_TIMEOUT_MS, onError });
    return { ak, pool: pglite, close: () => db.close().finally(unlock) };
  } catch (error) {
    unlock();
    throw error;
  }
}
