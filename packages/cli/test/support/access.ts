import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { Access, type AuditRow, type Caller } from '@agentkey/access';
import type { AgentKey, Queryable } from '@agentkey/core';
import type { Place } from './cli.js';

/** One AGENTKEY_SECRET_KEYS entry: a fresh 32-byte key under `kid`. */
export const keyEntry = (kid: string) => `${kid}:${randomBytes(32).toString('base64')}`;

/** Who the CLI records when no --as is given. */
export const osUser = () => userInfo().username;

export interface Agent {
  caller: Caller;
  /** Its `ak_` key: what a vend is made with. */
  key: string;
}

/** A native key acting as an agent, as the gate would present it to @agentkey/access. */
export async function newAgent(ak: AgentKey, accountId = 'acme'): Promise<Agent> {
  const made = await ak.create({ accountId, budgetCents: 10_000 });
  const caller: Caller = {
    kind: 'key',
    id: made.id,
    subject: null,
    accountId,
    scopes: null,
    expiresAt: null,
  };
  return { caller, key: made.key };
}

/** `fn` with @agentkey/access on the place's database, sealing with `secretKeys`. */
export function withAccess<R>(
  place: Place,
  secretKeys: string,
  fn: (access: Access, ak: AgentKey, pool: Queryable) => Promise<R>,
): Promise<R> {
  return place.withStore((ak, pool) => fn(new Access({ ak, pool, secretKeys }), ak, pool));
}

/** An audit row as the tests compare them: action and actor. */
export const step = (r: AuditRow) => `${r.action} by ${r.actor.kind}:${r.actor.id}`;
