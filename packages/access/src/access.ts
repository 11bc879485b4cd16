import { type AgentKey, type Credential, type Queryable, tableNames } from '@agentkey/core';
import type { Actor, Caller } from './caller.js';
import type { AccessContext } from './context.js';
import { AccessConfigError, type AccessResult } from './errors.js';
import { postgresLimiter, type RateLimiter } from './rate/limiter.js';
import { checkRates, type RateKind, type RateLimits } from './rate/rules.js';
import { type KeyRing, parseKeyRing } from './secrets/keyring.js';
import { migrateAccess } from './sql/migrate.js';
import { accessNames } from './sql/names.js';
import { type AuditQuery, type AuditRow, queryAudit } from './store/audit.js';
import { type Approver, approve, deny, type Narrowing, revokeGrant } from './store/decisions.js';
import type { GrantInfo, ToolAccess } from './store/grant-row.js';
import { mintPermit, type Permit, type PermitOptions, revokePermit } from './store/permits.js';
import { listRequests, type RequestFilter, requestAccess, statusesFor } from './store/requests.js';
import { type ResealReport, resealAll } from './store/reseal.js';
import { listSuggestions, type SuggestionSummary, suggestTool } from './store/suggest.js';
import { defineTool, listTools, readTool, setSecret, type ToolInfo, toolInfo } from './store/tools.js';
import { type UseDeps, type Vended, vend } from './store/vend.js';

export interface AccessOptions {
  /** The store: the agents are its rows, their calls are charged to it. */
  ak: AgentKey;
  /** The pool `ak` was built on (the access tables live beside the keys table). */
  pool: Queryable;
  /** `kid:base64key[,kid:base64key…]`; default `process.env.AGENTKEY_SECRET_KEYS`. The first seals. */
  secretKeys?: string;
  /** Rate windows per kind of call, per credential and per tool. */
  rateLimits?: RateLimits;
  /** Where windows are counted: PostgreSQL (default) or `redisLimiter(…)`. */
  limiter?: RateLimiter;
  now?: () => Date;
}

/**
 * Agents and upstream tools, on the store: a tools catalog, zero access until a human approves a
 * request, sealed upstream secrets vended per call or injected by the proxy, permit slips, and an
 * append-only audit log. Expected refusals are results with a stable code (errors.ts).
 */
export class Access {
  readonly ak: AgentKey;
  private readonly ctx: AccessContext;
  private readonly deps: UseDeps;

  constructor(options: AccessOptions) {
    if (!options || typeof options !== 'object')
      throw new AccessConfigError('Access needs options', 'options');
    const { ak, pool } = options;
    if (typeof ak?.authorize !== 'function') throw new AccessConfigError('ak must be an AgentKey', 'ak');
    if (typeof pool?.query !== 'function') throw new AccessConfigError('pool must have query()', 'pool');
    const tables = tableNames(ak.tableName);
    const ring: KeyRing = parseKeyRing(
      options.secretKeys ?? process.env.AGENTKEY_SECRET_KEYS,
      options.secretKeys === undefined ? 'AGENTKEY_SECRET_KEYS' : 'secretKeys',
    );
    const now = options.now ?? (() => new Date());
    if (typeof now !== 'function') throw new AccessConfigError('now must be a function', 'now');
    this.ak = ak;
    this.ctx = { pool, tables, names: accessNames(tables), ring, now };
    this.deps = {
      ctx: this.ctx,
      ak,
      limiter: namespaced(options.limiter ?? postgresLimiter(ak), tables.id),
      limits: options.rateLimits ?? {},
    };
  }

  /** Creates the access tables (numbered migrations with a version row). Run after `ak.migrate()`. */
  migrate(): Promise<void> {
    return migrateAccess(this.ctx.pool, this.ctx.tables);
  }

  // Catalog (admin)
  defineTool(def: unknown, actor: Actor): Promise<AccessResult<{ tool: ToolInfo }>> {
    return defineTool(this.ctx, def, actor);
  }
  setSecret(toolId: string, secret: string, actor: Actor): Promise<AccessResult<{ version: number }>> {
    return setSecret(this.ctx, toolId, secret, actor);
  }
  /** After putting a new key first in the ring: seal every secret under it. */
  reseal(actor: Actor): Promise<ResealReport> {
    return resealAll(this.ctx, actor);
  }
  listTools(): Promise<ToolInfo[]> {
    return listTools(this.ctx);
  }
  async getTool(id: string): Promise<ToolInfo | null> {
    const row = await readTool(this.ctx, id);
    return row ? toolInfo(row) : null;
  }

  // Agents
  /** The catalog with the caller's status per tool (`expired: true` on a grant that ran out). */
  async toolsFor(caller: Caller): Promise<Array<ToolInfo & ToolAccess>> {
    const [tools, statuses] = await Promise.all([listTools(this.ctx), statusesFor(this.ctx, caller)]);
    return tools.map((t) => ({ ...t, ...(statuses.get(t.id) ?? { status: 'none' }) }));
  }
  suggest(caller: Caller, body: unknown): Promise<AccessResult<{ suggestion: SuggestionSummary }>> {
    return suggestTool(this.ctx, caller, body);
  }
  listSuggestions(): Promise<SuggestionSummary[]> {
    return listSuggestions(this.ctx);
  }
  request(caller: Caller, toolId: unknown, body: unknown): Promise<AccessResult<{ request: GrantInfo }>> {
    return requestAccess(this.ctx, caller, toolId, body);
  }
  vend(caller: Caller, credential: Credential, toolId: unknown): Promise<AccessResult<{ vended: Vended }>> {
    return vend(this.deps, caller, credential, toolId);
  }
  /** Counts one call of `kind` in the caller's (and the tool's) windows; a refusal is a 429. */
  rate(kind: RateKind, caller: Caller, toolId?: string) {
    return checkRates(this.deps.limiter, this.deps.limits, kind, caller, toolId);
  }

  // Approvals (the console, the CLI, the admin API)
  listRequests(filter?: RequestFilter): Promise<GrantInfo[]> {
    return listRequests(this.ctx, filter);
  }
  approve(
    requestId: unknown,
    approver: Approver,
    narrowing?: Narrowing,
  ): Promise<AccessResult<{ grant: GrantInfo }>> {
    return approve(this.ctx, requestId, approver, narrowing);
  }
  deny(requestId: unknown, approver: Approver, note?: string): Promise<AccessResult<{ request: GrantInfo }>> {
    return deny(this.ctx, requestId, approver, note);
  }
  revokeGrant(grantId: unknown, approver: Approver): Promise<AccessResult<{ grant: GrantInfo }>> {
    return revokeGrant(this.ctx, grantId, approver);
  }
  audit(query?: AuditQuery): Promise<AuditRow[]> {
    return queryAudit(this.ctx, query);
  }

  // Permit slips
  mintPermit(
    caller: Caller,
    action: unknown,
    options?: PermitOptions,
  ): Promise<AccessResult<{ permit: Permit }>> {
    return mintPermit(this.ctx, this.ak, caller, action, options);
  }
  revokePermit(caller: Caller, keyId: unknown): Promise<AccessResult<{ revoked: boolean }>> {
    return revokePermit(this.ctx, this.ak, caller, keyId);
  }
  /**
   * `withAgentKey('github:repos.read', { ttl: '10s', budgetCents }, fn)` for `caller`: a permit slip
   * for the duration of `fn`, revoked when `fn` settles, even when it throws. A refused mint rejects
   * with an `AccessRefusalError` carrying the code.
   */
  async withAgentKey<R>(
    caller: Caller,
    action: string,
    options: PermitOptions,
    fn: (permit: Permit) => Promise<R> | R,
  ): Promise<R> {
    const minted = await this.mintPermit(caller, action, options);
    if (!minted.ok) throw new AccessRefusalError(minted.code, minted.message);
    try {
      return await fn(minted.permit);
    } finally {
      await this.revokePermit(caller, minted.permit.id);
    }
  }

  /** @internal For the routes: the request-path pieces. */
  get internals(): UseDeps {
    return this.deps;
  }
}

/**
 * Windows are named by tool, grant and key ids, which repeat from one deployment (keys table) to the
 * next: named after the deployment too, two of them on one Redis never count in each other's.
 */
function namespaced(limiter: RateLimiter, deployment: string): RateLimiter {
  if (typeof limiter?.hit !== 'function') throw new AccessConfigError('limiter must have hit()', 'limiter');
  return { hit: (bucket, limit) => limiter.hit(`${deployment}|${bucket}`, limit) };
}

/** A refusal turned into a rejection, where a callback API cannot return a result. */
export class AccessRefusalError extends Error {
  override readonly name = 'AccessRefusalError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
