// Holds around a streamed LLM call (server-sent events): reserve what the longest answer could
// cost, stream, then charge only what streamed. A client that hangs up mid-way pays for the tokens
// it was sent, and the rest of the hold is free again at once.
import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth, createAgentKeyRoutes } from '@agentkey/express';
import express from 'express';
import pg from 'pg';

function fail(message: string): never {
  console.error(`streaming-holds: ${message}`);
  process.exit(1);
}
const { DATABASE_URL, PORT = '3000' } = process.env;
if (!DATABASE_URL) fail('set DATABASE_URL to your PostgreSQL, e.g. postgres://localhost:5432/app');
const port = Number(PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, not ${PORT}`);

const pool = new pg.Pool({ connectionString: DATABASE_URL });
const ak = new AgentKey({ pool });
await ak.migrate().catch((error: Error) => fail(`cannot migrate (${error.message}): check DATABASE_URL`));

const CENTS_PER_TOKEN = 1;
const MAX_TOKENS = 20; // the model never answers longer: the hold covers the worst case

/** A stand-in for a model's streaming API: one token every 100 ms. */
async function* model(): AsyncGenerator<string> {
  const answer = 'A hold reserves the most a call can cost, and settling charges what it did cost.';
  for (const token of answer.split(' ').slice(0, MAX_TOKENS)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    yield `${token} `;
  }
}

const app = express();
app.use(express.json());
// POST /signup gives a key with the chat scope (at most 100¢, expiring in 24h).
app.use(createAgentKeyRoutes(ak, { signupScopes: ['chat'], requireEmailForSignup: false }));

const hold = MAX_TOKENS * CENTS_PER_TOKEN;
app.post('/chat', agentKeyAuth({ agentKey: ak, scope: 'chat', hold }), async (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  // What has been sent is what the call costs, at every moment: if the client hangs up, the hold
  // is settled at this amount and the rest released.
  res.locals.agentKeyCostCents = 0;
  let tokens = 0;
  for await (const token of model()) {
    if (res.destroyed) break; // the client is gone: stop generating
    res.write(`data: ${JSON.stringify({ token })}\n\n`);
    tokens += 1;
    res.locals.agentKeyCostCents = tokens * CENTS_PER_TOKEN;
  }
  res.end(`event: usage\ndata: ${JSON.stringify({ tokens, cents: tokens * CENTS_PER_TOKEN })}\n\n`);
});

// What the caller's key has used, holds open and can still spend (free to call).
app.get('/budget', agentKeyAuth({ agentKey: ak }), (req, res) => {
  const { budget } = (req as AgentKeyAuthRequest).agentKey;
  res.json({
    usedCents: budget.usedCents,
    heldCents: budget.heldCents,
    remainingCents: budget.remainingCents,
  });
});

const server = app.listen(port, () => {
  console.log(`streaming-holds listening on http://localhost:${(server.address() as { port: number }).port}`);
});
