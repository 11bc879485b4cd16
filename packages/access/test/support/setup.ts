import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Access,
  type AccessOptions,
  accessRoutes,
  type Caller,
  type Narrowing,
  type ProxyLimits,
} from '@agentkey/access';
import type { AgentKey, Verifier } from '@agentkey/core';
import { agentKeyAuth } from '@agentkey/express';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import express from 'express';
import { afterAll, beforeAll } from 'vitest';

export const keyB64 = () => randomBytes(32).toString('base64');
export const ADMIN = { kind: 'human', id: 'alice' } as const;

export interface Upstream {
  url: string;
  /** Every request the upstream saw: method, path (raw) and headers. */
  seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

/** A real HTTP server standing in for an upstream tool; it echoes what it received. */
export async function startUpstream(
  handle?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (handle?.(req, res)) return;
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, method: req.method, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON reply, checked field by field with expect
  body: any;
  headers: Headers;
}

export interface Harness {
  db: TestDb;
  ak: AgentKey;
  access: Access;
  /** The key ring the harness's Access seals with. */
  secretKeys: string;
  origin: string;
  call(method: string, path: string, token: string, body?: unknown): Promise<Reply>;
  close(): Promise<void>;
}

/** A migrated store with the access tables, and an app serving accessRoutes behind agentKeyAuth. */
export async function startHarness(
  options: {
    verifiers?: Verifier[];
    access?: Partial<AccessOptions>;
    proxyLimits?: Partial<ProxyLimits>;
  } = {},
): Promise<Harness> {
  const { db, ak } = await openStore('postgres');
  const secretKeys = `k1:${keyB64()}`;
  const access = new Access({ ak, pool: db.pool, secretKeys, ...options.access });
  await access.migrate();
  const app = express();
  const auth = agentKeyAuth({ agentKey: ak, verifiers: options.verifiers ?? [], onError: () => {} });
  app.use(
    accessRoutes({
      access,
      auth,
      onError: () => {},
      ...(options.proxyLimits ? { proxyLimits: options.proxyLimits } : {}),
    }),
  );
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    db,
    ak,
    access,
    secretKeys,
    origin,
    async call(method, path, token, body) {
      const res = await fetch(`${origin}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await db.close();
    },
  };
}

/** A GitHub-like tool on `upstream`, with a secret set. */
export async function addTool(
  access: Access,
  upstream: Upstream,
  id = 'github',
  extra: Record<string, unknown> = {},
) {
  const defined = await access.defineTool(
    {
      id,
      name: 'GitHub',
      baseUrl: upstream.url,
      presentation: 'Authorization: Bearer {secret}',
      methods: ['GET', 'POST'],
      pathPrefixes: ['/repos/'],
      actions: { 'repos.read': { methods: ['GET'], pathPrefixes: ['/repos/'] } },
      ...extra,
    },
    ADMIN,
  );
  if (!defined.ok) throw new Error(defined.message);
  const secret = `ghp_${randomBytes(12).toString('hex')}`;
  const set = await access.setSecret(id, secret, ADMIN);
  if (!set.ok) throw new Error(set.message);
  return secret;
}

/**
 * One harness, one upstream and one tool for a test file (`tool: false` for none), started before
 * its tests and closed after them. Read the fields inside tests: they are set by beforeAll.
 */
export function harnessPerFile(
  options: {
    harness?: Parameters<typeof startHarness>[0];
    upstream?: Parameters<typeof startUpstream>[0];
    tool?: Record<string, unknown> | false;
  } = {},
) {
  const files = {} as { h: Harness; upstream: Upstream; secret: string };
  beforeAll(async () => {
    files.h = await startHarness(options.harness);
    files.upstream = await startUpstream(options.upstream);
    if (options.tool !== false)
      files.secret = await addTool(files.h.access, files.upstream, 'github', options.tool);
  });
  afterAll(async () => {
    await files.h?.close();
    await files.upstream?.close();
  });
  return files;
}

/** A native key with `budgetCents` (on `poolParentId`'s pool, if given), holding an approved grant of `toolId` (narrowed as given). */
export async function grantedAgent(
  h: Harness,
  options: { budgetCents?: number; toolId?: string; narrowing?: Narrowing; poolParentId?: number } = {},
) {
  const made = await h.ak.create({
    accountId: 'acme',
    budgetCents: options.budgetCents ?? null,
    ...(options.poolParentId === undefined ? {} : { poolParentId: options.poolParentId }),
  });
  const caller: Caller = {
    kind: 'key',
    id: made.id,
    subject: null,
    accountId: 'acme',
    scopes: null,
    expiresAt: null,
  };
  const asked = await h.access.request(caller, options.toolId ?? 'github', { reason: 'test' });
  if (!asked.ok) throw new Error(asked.message);
  const approved = await h.access.approve(asked.request.id, { actor: ADMIN }, options.narrowing);
  if (!approved.ok) throw new Error(approved.message);
  return { ...made, caller, grantId: approved.grant.id };
}
