import { AgentKey } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import express, { type Request, type Response } from 'express';
import pg from 'pg';
import { callOnce } from '../support.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate();
const app = express();
/** A model that streams two chunks and costs 12.5¢. */
async function streamModel(_req: Request, res: Response) {
  res.write('Hello, ');
  res.write('world\n');
  return { cents: 12.5 };
}

// #region readme
app.post('/stream', agentKeyAuth({ agentKey: ak, scope: 'chat', hold: 50 }), async (req, res) => {
  const usage = await streamModel(req, res); // writes the answer as it comes
  res.locals.agentKeyCostCents = usage.cents; // what it really cost; the rest of the 50¢ is freed
  res.end();
});
// #endregion readme

const { key, id } = await ak.create({ accountId: 'acme', scopes: ['chat'], budgetCents: 100 });
await callOnce(app, [key], '/stream');
// The hold is settled once the response has ended, just after the client has read it.
for (let i = 0; i < 100 && (await ak.getKey(id))?.budget.usedCents !== 12.5; i++) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(`key ${id} was charged ${(await ak.getKey(id))?.budget.usedCents}¢ of its 50¢ hold`);
await pool.end();
