import { EventEmitter } from 'node:events';
import { AgentKey } from '@agentkey/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, serverPool } from './support/db.js';

/**
 * pg's pool emits `error` when the server closes an idle connection (a restart's 57P01). With no
 * listener, an EventEmitter throws it and the process dies: the README's app crashed that way.
 */
describe('pool errors never crash the app', () => {
  const admin = serverPool();
  beforeAll(() => admin.query('SELECT 1'));
  afterAll(() => admin.end());

  it('an idle connection closed by the server is reported, and the pool serves the next call (server only)', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    const reported: Array<{ error: unknown; context: string }> = [];
    try {
      new AgentKey({ pool, onError: (error, context) => reported.push({ error, context }) });
      new AgentKey({ pool, onError: () => reported.push({ error: 'second', context: 'second' }) });
      expect(pool.listenerCount('error')).toBe(1);
      const client = await pool.connect();
      const { pid } = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0];
      client.release(); // idle in the pool now
      const gone = new Promise((resolve) => pool.once('error', resolve));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await gone;
      expect(reported).toHaveLength(1);
      expect((reported[0]!.error as { code?: string }).code).toBe('57P01');
      expect(reported[0]!.context).toMatch(/pool/);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('any EventEmitter pool gets the listener; a pool without `on` is left alone', () => {
    const emitter = Object.assign(new EventEmitter(), { query: () => Promise.resolve({ rows: [] }) });
    const reported: unknown[] = [];
    new AgentKey({ pool: emitter, onError: (error) => reported.push(error) });
    expect(() => emitter.emit('error', new Error('terminating connection'))).not.toThrow();
    expect(reported).toHaveLength(1);
    expect(() => new AgentKey({ pool: { query: () => Promise.resolve({ rows: [] }) } })).not.toThrow();
  });

  it('onError is checked at construction', () => {
    expect(() => new AgentKey({ pool: admin, onError: 'log' as never })).toThrow(
      expect.objectContaining({ field: 'onError' }),
    );
  });
});
