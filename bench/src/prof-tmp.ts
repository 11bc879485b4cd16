import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { measure } from './harness.js';
import { coreScenarios } from './scenarios/core.js';

const url = 'postgres://postgres@127.0.0.1:5432/test';
const schema = `v_${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 32 });
const admin = new pg.Pool({ connectionString: url, max: 2 });
await admin.query(`CREATE SCHEMA ${schema}`);
const { scenarios } = await coreScenarios({ pool, admin, schema, keys: 100 });
const s = scenarios[Number(process.argv[2])]!;
const c0 = process.cpuUsage();
const m = await measure(s.name, 32, 4, s.run);
const cu = process.cpuUsage(c0);
console.log(
  s.name,
  m.perSec.toFixed(0),
  'ops/s; node cpu µs/op',
  ((cu.user + cu.system) / m.ops).toFixed(1),
  'user',
  (cu.user / m.ops).toFixed(1),
);
const st = await admin.query(
  `SELECT relname, n_tup_upd, n_tup_hot_upd, n_dead_tup, pg_relation_size(relid) AS size FROM pg_stat_user_tables WHERE schemaname = $1`,
  [schema],
);
console.log(st.rows);
await admin.query(`DROP SCHEMA ${schema} CASCADE`);
await pool.end();
await admin.end();
