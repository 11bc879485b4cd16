/**
 * One app process of the multi-process suites (procs.ts): its own AgentKey on its own pg pool,
 * commanded over IPC. Each command is answered once it is done; the parent counts an answer it
 * received as acknowledged, and nothing else. Commands run concurrently, as an app's requests do.
 *
 * Env: AGENTKEY_WORKER, the JSON of a WorkerConfig (procs.ts).
 */
import { AgentKey, type AgentKeyOptions, type AuthorizeResult, type Gate } from '@agentkey/core';
import { oidcVerifier } from '@agentkey/oidc';
import { redisChanges, redisCounter } from '@agentkey/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Command, WorkerConfig } from './procs.js';

const config = JSON.parse(process.env.AGENTKEY_WORKER ?? '{}') as WorkerConfig;
const pool = new pg.Pool({ connectionString: config.url, max: config.poolMax ?? 4 });
pool.on('error', () => {});
let changesSeen = 0;
let redis: Redis | undefined;
const options: AgentKeyOptions = {
  pool,
  tableName: config.table,
  timeoutMs: config.timeoutMs,
  onError: () => {},
  ...(config.descriptorTtlMs !== undefined ? { descriptorTtlMs: config.descriptorTtlMs } : {}),
};
if (config.redis) {
  redis = new Redis(config.redis.url, {
    maxRetriesPerRequest: 1,
    connectTimeout: 500,
    retryStrategy: () => 100,
  });
  redis.on('error', () => {});
  const changes = redisChanges({ redis, prefix: config.redis.prefix });
  changes.subscribe(() => {
    changesSeen++;
  });
  options.changes = changes;
}
if (config.counter) {
  const { url, prefix, timeoutMs, relaySecret } = config.counter;
  // Refused connections retry quickly: a restarted server is found again at once.
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  client.on('error', () => {});
  const relay = relaySecret ? { relay: { secret: relaySecret } } : {};
  options.counter = redisCounter({ redis: client, prefix, timeoutMs, retryMs: timeoutMs, ...relay });
}
const ak = new AgentKey(options);
/** The store's relay, when its counter has one (the calls it served for other processes). */
const relayOf = (store: AgentKey) =>
  (store as unknown as { ctx: { relay: { stats: { served: number } } | null } }).ctx.relay;
const gate: Gate | undefined = config.oidc
  ? ak.gate({
      verifiers: [
        oidcVerifier({
          issuer: config.oidc.issuer,
          audience: config.oidc.audience,
          jwksUri: config.oidc.jwksUri,
          allowInsecureIssuer: true,
          cacheTtlMs: config.oidc.cacheTtlMs,
        }),
      ],
    })
  : undefined;

/** What the parent needs of an answer: never the key itself. */
function summary(r: AuthorizeResult) {
  return {
    ok: r.ok,
    code: r.ok ? null : r.error.code,
    chargedCents: r.ok ? r.chargedCents : 0,
    replayed: r.ok ? r.replayed === true : false,
    holdId: r.ok ? (r.hold?.id ?? null) : null,
    scopes: r.principal?.scopes ?? null,
  };
}

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'charge':
      return summary(
        await ak.authorize(command.key, {
          costCents: command.cents,
          ...(command.scope ? { scope: command.scope } : {}),
          ...(command.idempotencyKey ? { idempotencyKey: command.idempotencyKey } : {}),
        }),
      );
    case 'hold':
      return summary(
        await ak.reserve(command.key, {
          maxCents: command.cents,
          ttl: '1h',
          ...(command.idempotencyKey ? { idempotencyKey: command.idempotencyKey } : {}),
        }),
      );
    case 'settle':
    case 'release': {
      const r =
        command.op === 'settle'
          ? await ak.settle(command.holdId, { costCents: command.cents })
          : await ak.release(command.holdId);
      return { ok: r.ok, code: r.ok ? null : r.error.code, chargedCents: r.ok ? r.chargedCents : 0 };
    }
    case 'gate': {
      if (!gate) throw new Error('worker: no oidc verifier configured');
      const r = await gate.authenticate(command.token, command.scope ? { scope: command.scope } : {});
      return { ok: r.ok, code: r.ok ? null : r.error.code, scopes: r.ok ? r.principal.scopes : null };
    }
    case 'watch': {
      const { key, token, scope, until } = command;
      const end = Date.now() + 10_000;
      for (let calls = 1; Date.now() < end; calls++) {
        const at = Date.now();
        const options = { costCents: 0.01, ...(scope ? { scope } : {}) };
        const r = token ? await gate!.authenticate(token, options) : await ak.authorize(key!, options);
        const met =
          until === 'refused'
            ? !r.ok
            : r.ok && JSON.stringify(r.principal.scopes) === JSON.stringify(until.scopes);
        if (met) return { at, calls, code: r.ok ? null : r.error.code };
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      throw new Error(`watch: not met in 10 s (${JSON.stringify(until)})`);
    }
    case 'stats':
      return { changesSeen, pid: process.pid, relayServed: relayOf(ak)?.stats.served ?? 0 };
    case 'drain': {
      let pending = await ak.resolveInDoubt();
      for (let i = 0; pending > 0 && i < 40; i++) {
        await new Promise((r) => setTimeout(r, 250));
        pending = await ak.resolveInDoubt();
      }
      return { pending };
    }
  }
}

process.on('message', (message: { id: number; command: Command }) => {
  run(message.command).then(
    (answer) => process.send?.({ id: message.id, answer }),
    (error: Error) => process.send?.({ id: message.id, error: error.message }),
  );
});
process.on('disconnect', () => {
  redis?.disconnect();
  void pool.end().finally(() => process.exit(0));
});
process.send?.({ ready: true });
