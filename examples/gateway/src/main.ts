/**
 * The main job (`npx -y pnpm@10 start`): the gateway on 127.0.0.1, its database, its dev issuer,
 * fresh keys and the banner of what to try. Bad configuration is one line on stderr naming the
 * flag or variable, and exit code 1. SIGINT/SIGTERM close everything and remove gateway.json.
 */

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Access } from '@agentkey/access';
import { AgentKey, AgentKeyInputError } from '@agentkey/core';
import { CONSOLE_PATH, gatewayApp } from './app.js';
import { banner } from './banner.js';
import { ConfigError, readConfig } from './config.js';
import { lockFolder, writeGatewayFile } from './data-folder.js';
import { openDatabase } from './database.js';
import { mintKeys } from './demo-keys.js';
import { type DevIssuer, startDevIssuer } from './dev-issuer.js';
import { openRedis, type RedisParts } from './redis.js';
import { devVerifier, externalVerifiers } from './verifiers.js';

const cleanups: Array<() => unknown> = [];

async function shutdown(code: number): Promise<never> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // Closing as much as can be closed is all that is left to do.
    }
  }
  process.exit(code);
}

function onError(error: unknown, context: string): void {
  // Messages only: a cause may quote a connection string, never a key (the gate strips those).
  console.error(`agentkey gateway (${context}): ${error instanceof Error ? error.message : String(error)}`);
}

async function listen(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot listen on 127.0.0.1:${port} (${code}): pick another --port (0: any free port)`,
    );
  }
  return (server.address() as AddressInfo).port;
}

async function start(): Promise<void> {
  const config = readConfig(process.argv.slice(2), process.env, process.cwd());
  const external = externalVerifiers(config);
  if (config.databaseUrl === null) cleanups.push(lockFolder(config.dataDir));
  const db = await openDatabase(config.databaseUrl, config.dataDir);
  cleanups.push(() => db.close());
  let redis: RedisParts | null = null;
  if (config.redisUrl) {
    redis = await openRedis(config.redisUrl, config.table);
    cleanups.push(() => redis?.close());
  }
  let ak: AgentKey;
  try {
    ak = new AgentKey({
      pool: db.pool,
      ...(db.preparedStatements === undefined ? {} : { preparedStatements: db.preparedStatements }),
      tableName: config.table,
      validScopes: ['chat', 'admin'],
      onError,
      ...(redis?.options ?? {}),
    });
  } catch (error) {
    if (error instanceof AgentKeyInputError) throw new ConfigError(`AGENTKEY_TABLE: ${error.message}`);
    throw error;
  }
  await ak.migrate();
  // The console's approvals, tools and audit log need the access tables, which seal secrets.
  const access = process.env.AGENTKEY_SECRET_KEYS ? new Access({ ak, pool: db.pool }) : null;
  await access?.migrate();

  const server = createServer();
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const port = await listen(server, config.port);
  const url = `http://127.0.0.1:${port}`;
  const devIssuer: DevIssuer | null = config.devIssuer
    ? await startDevIssuer(config.dataDir, url, url)
    : null;
  const verifiers = [...(devIssuer ? [devVerifier(devIssuer.issuer, url)] : []), ...external];
  server.on(
    'request',
    gatewayApp({
      ak,
      pool: db.pool,
      access,
      verifiers,
      resource: url,
      devIssuer: () => devIssuer?.handle ?? null,
      onError,
    }),
  );

  const keys = await mintKeys(ak);
  if (db.embedded) {
    cleanups.push(
      writeGatewayFile(config.dataDir, {
        pid: process.pid,
        port,
        url,
        databaseUrl: db.servedUrl,
        table: config.table,
      }),
    );
  }
  console.log(
    banner({
      url,
      console: { url: `${url}${CONSOLE_PATH}`, access: access !== null },
      database: db.label,
      redis: redis?.label ?? null,
      verifiers: verifiers.map((v) => v.id),
      devIssuer,
      keys,
    }),
  );
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(0));

start().catch(async (error: unknown) => {
  if (error instanceof ConfigError) console.error(`agentkey gateway: ${error.message}`);
  else
    console.error(
      `agentkey gateway: failed to start: ${error instanceof Error ? error.message : String(error)}`,
    );
  await shutdown(1);
});
