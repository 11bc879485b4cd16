import { AgentKey } from '@agentkey/core';
import { createAgentKeyRoutes } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const app = express();

// #region readme
app.use(express.json());
app.use(createAgentKeyRoutes(ak, { signupScopes: ['proxy.chat'] }));
// #endregion readme

const server = app.listen(0);
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as { port: number };
const res = await fetch(`http://127.0.0.1:${port}/signup`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'dev@example.com' }),
});
console.log(`POST /signup → ${res.status} ${JSON.stringify(Object.keys((await res.json()) as object))}`);
await new Promise((resolve) => server.close(resolve));
await pool.end();
