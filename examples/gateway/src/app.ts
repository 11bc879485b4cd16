/**
 * The gateway's HTTP API: a fake LLM behind `agentKeyAuth`. `POST /v1/complete` charges per token
 * (idempotent with `Idempotency-Key`); with `"stream": true` it holds the most the call may cost
 * and settles what streamed; `GET /v1/me` shows the caller's budget; `/admin/*` needs the `admin`
 * scope; `/oidc/*` is the dev issuer; RFC 9728 metadata tells OAuth clients where tokens come from.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Access } from '@agentkey/access';
import { agentKeyConsole } from '@agentkey/console';
import type { AgentKey, Queryable, Verifier } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth, COST_LOCAL } from '@agentkey/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type CompletionRequest, priceOf, readCompletion, TOKEN_INTERVAL_MS, tokens } from './model.js';

export interface AppOptions {
  ak: AgentKey;
  /** The pool `ak` is on: the console reads its tables. */
  pool: Queryable;
  /** Approvals, tools and the audit log in the console, when AGENTKEY_SECRET_KEYS is set. */
  access: Access | null;
  verifiers: readonly Verifier[];
  /** This API's resource identifier: its origin, the `aud` of dev-issuer tokens. */
  resource: string;
  /** The dev issuer's handler, once it exists (it needs the port the server got). */
  devIssuer: () => ((req: IncomingMessage, res: ServerResponse) => void) | null;
  onError: (error: unknown, context: string) => void;
}

const completionOf = (req: Request) => (req as Request & { completion: CompletionRequest }).completion;

/** Where the console is mounted; the banner prints it. */
export const CONSOLE_PATH = '/agentkey';

export function gatewayApp({
  ak,
  pool,
  access,
  verifiers,
  resource,
  devIssuer,
  onError,
}: AppOptions): express.Express {
  const base = {
    agentKey: ak,
    verifiers,
    realm: 'agentkey-gateway',
    protectedResource: { resource, name: 'agentkey gateway (fake LLM)' },
    onError,
  };
  const call = agentKeyAuth({
    ...base,
    scope: 'chat',
    cost: (req) => priceOf(completionOf(req).maxTokens),
    idempotencyKey: (req) => req.get('idempotency-key'),
  });
  const stream = agentKeyAuth({
    ...base,
    scope: 'chat',
    hold: (req) => priceOf(completionOf(req).maxTokens),
  });
  const anyone = agentKeyAuth(base);
  const admin = agentKeyAuth({ ...base, scope: 'admin' });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Before the JSON parser: oidc-provider reads its own bodies.
  app.use('/oidc', (req, res, next) => {
    const handle = devIssuer();
    if (handle) handle(req, res);
    else next();
  });
  // The console: the admin key (scope `admin`) signs in; its forms carry their own parser.
  app.use(CONSOLE_PATH, agentKeyConsole({ agentKey: ak, pool, access, adminScope: 'admin' }));
  app.use(express.json({ limit: '16kb' }));
  app.get('/.well-known/oauth-protected-resource', anyone);

  const charged = (req: Request, res: Response, next: NextFunction) =>
    (completionOf(req).stream ? stream : call)(req, res, next);
  app.post('/v1/complete', parseCompletion, charged, async (req, res) => {
    const { prompt, maxTokens, stream: streamed } = completionOf(req);
    if (streamed) return streamTokens(prompt, maxTokens, res);
    const { agentKey } = req as AgentKeyAuthRequest;
    if (agentKey.replayed) res.set('Idempotent-Replayed', 'true');
    res.json({
      text: [...tokens(prompt, maxTokens)].join('').trim(),
      tokens: maxTokens,
      charged_cents: agentKey.chargedCents,
      replayed: agentKey.replayed ?? false,
      remaining_cents: agentKey.budget.remainingCents,
    });
  });

  app.get('/v1/me', anyone, (req, res) => {
    const { agentKey: p } = req as AgentKeyAuthRequest;
    res.json({
      kind: p.kind,
      id: p.id,
      subject: p.subject,
      name: p.name,
      via: p.verifier,
      scopes: p.scopes,
      budget: p.budget,
    });
  });

  app.get('/admin/keys/:id', admin, async (req, res) => {
    const id = keyId(req, res);
    if (id === null) return;
    const key = await ak.getKey(id);
    // What the ledger says this key spent, next to what its counter says.
    const ledger = await ak.spend({ keyId: id }, { from: new Date(0), to: new Date(Date.now() + 60_000) });
    if (key) res.json({ ...key, ledgerCents: ledger.totalCents });
    else res.status(404).json({ error: 'not_found', error_description: `No key ${id}.` });
  });
  app.post('/admin/keys/:id/revoke', admin, async (req, res) => {
    const id = keyId(req, res);
    if (id === null) return;
    const revoked = await ak.revoke(id, null, { actor: 'gateway admin' });
    res.status(revoked ? 200 : 404).json({ id, revoked });
  });
  app.get('/admin/subjects/:subject', admin, async (req, res) => {
    const info = await ak.getSubject(String(req.params.subject));
    if (info) res.json(info);
    else res.status(404).json({ error: 'not_found', error_description: 'No such subject.' });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // express.json's refusals: a body that is not JSON, or too large.
      res.status(status).json({ error: 'invalid_request', error_description: (error as Error).message });
      return;
    }
    onError(error, 'gateway');
    if (!res.headersSent)
      res.status(500).json({ error: 'server_error', error_description: 'The gateway failed.' });
  });
  return app;
}

function parseCompletion(req: Request, res: Response, next: NextFunction): void {
  const read = readCompletion(req.body);
  if (typeof read === 'string') {
    res.status(400).json({ error: 'invalid_request', error_description: read });
    return;
  }
  (req as Request & { completion: CompletionRequest }).completion = read;
  next();
}

/**
 * Server-sent events, one token each. The cost so far is declared before each token goes out, so
 * when the client hangs up, agentKeyAuth settles the hold at exactly what was streamed.
 */
async function streamTokens(prompt: string, maxTokens: number, res: Response): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.locals[COST_LOCAL] = 0;
  let sent = 0;
  for (const token of tokens(prompt, maxTokens)) {
    if (res.destroyed) return;
    sent++;
    res.locals[COST_LOCAL] = priceOf(sent);
    res.write(`data: ${JSON.stringify({ index: sent, token })}\n\n`);
    await sleep(TOKEN_INTERVAL_MS);
  }
  if (res.destroyed) return;
  res.write(`data: ${JSON.stringify({ done: true, tokens: sent, charged_cents: priceOf(sent) })}\n\n`);
  res.end();
}

function keyId(req: Request, res: Response): number | null {
  const raw = String(req.params.id);
  if (/^\d{1,15}$/.test(raw)) return Number(raw);
  res.status(400).json({ error: 'invalid_request', error_description: 'A key id is a whole number.' });
  return null;
}
