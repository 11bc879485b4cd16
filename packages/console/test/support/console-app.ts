import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Access, type Caller } from '@agentkey/access';
import { agentKeyConsole, type ConsoleOptions } from '@agentkey/console';
import type { AgentKey, KeyInfo } from '@agentkey/core';
import { openStore, type TestDb } from '@agentkey/test-support/db.js';
import express from 'express';

export const ADMIN_SCOPE = 'console:admin';

export interface ConsoleApp {
  db: TestDb;
  ak: AgentKey;
  access: Access;
  /** The console's root: `http://127.0.0.1:<port>/agentkey`. */
  url: string;
  admin: { key: string; id: number };
  close(): Promise<void>;
}

/** More console options, given the console's URL (known once it listens: an OIDC callback needs it). */
export type ExtraOptions = (url: string) => Promise<Partial<ConsoleOptions>>;

/** A real app on real PostgreSQL: core and access migrated, the console mounted at /agentkey, an admin key minted. */
export async function startConsole(extra?: ExtraOptions): Promise<ConsoleApp> {
  const { db, ak } = await openStore('postgres');
  const access = new Access({ ak, pool: db.pool, secretKeys: `k1:${randomBytes(32).toString('base64')}` });
  await access.migrate();
  const app = express();
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const more = extra ? await extra(`http://127.0.0.1:${port}/agentkey`) : {};
  app.use('/agentkey', agentKeyConsole({ agentKey: ak, pool: db.pool, access, ...more }));
  const admin = await ak.create({ accountId: 'ops', name: 'alice', scopes: [ADMIN_SCOPE] });
  return {
    db,
    ak,
    access,
    url: `http://127.0.0.1:${port}/agentkey`,
    admin: { key: admin.key, id: admin.id },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await db.close();
    },
  };
}

export const callerOf = (k: KeyInfo): Caller => ({
  kind: k.kind,
  id: k.id,
  subject: k.subject,
  accountId: k.accountId,
  scopes: k.scopes,
  expiresAt: k.expiresAt,
});

/** An agent with a pending request for a tool (defined here), for the approval pages. */
export async function pendingRequest(c: ConsoleApp, toolId: string, agentName: string, reason: string) {
  const human = { kind: 'human', id: 'setup' } as const;
  if (!(await c.access.getTool(toolId))) {
    const tool = { id: toolId, name: toolId, baseUrl: 'https://example.test/', methods: ['GET', 'POST'] };
    const defined = await c.access.defineTool({ ...tool, pathPrefixes: ['/'] }, human);
    if (!defined.ok) throw new Error(defined.message);
  }
  const agent = await c.ak.create({
    accountId: 'agents',
    name: agentName,
    scopes: ['chat'],
    budgetCents: 500,
  });
  const info = (await c.ak.getKey(agent.id))!;
  const asked = await c.access.request(callerOf(info), toolId, { reason });
  if (!asked.ok) throw new Error(asked.message);
  return { agentId: agent.id, requestId: asked.request.id };
}

/** The access audit log's rows, oldest first. */
export async function auditRows(c: ConsoleApp) {
  return c.access.audit({ limit: 1000 });
}
