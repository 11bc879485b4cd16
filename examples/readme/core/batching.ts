import { AgentKey } from '@agentkey/core';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });

// #region readme
new AgentKey({ pool, batching: { maxInFlight: 2, maxBatch: 64 } }); // the default (maxInFlight 1 with a counter)
new AgentKey({ pool, batching: false }); // one statement per call
// #endregion readme

console.log('both batching settings accepted');
await pool.end();
