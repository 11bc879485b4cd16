import type { CoalescerLimits } from '../batching/coalescer.js';
import { costToMicros } from '../budget/money.js';
import type { ChargeRequest, Lookup, StoreContext } from '../context.js';
import type { CounterCall } from '../counter/port.js';
import { expiredCredential, malformedCredential, refuse } from '../errors/auth-errors.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { storeUnavailable } from '../errors/store-unavailable.js';
import { lookupOf } from '../keys/lookup.js';
import { tokenSide } from '../keys/rows.js';
import { Peeks } from '../legacy/peeks.js';
import type {
  AuthorizeOptions,
  AuthorizeResult,
  Credential,
  ReserveOptions,
  SettleOptions,
  SettleResult,
} from '../types.js';
import { ChargePath, chargeRequest, toAuthorizeResult, tokenExpired } from './charge.js';
import { HoldPath } from './holds.js';
import { guarded } from './in-doubt.js';

/**
 * The request path's calls (authorize, reserve, settle, release), each under the store's
 * deadline: expected outcomes are results, a store failure `unavailable`, bad arguments throw.
 */
export class RequestCalls {
  readonly charges: ChargePath;
  /** validate's reads (legacy/peeks.ts), batched alike. */
  readonly peeks: Peeks;
  private readonly holds: HoldPath;

  constructor(
    private readonly ctx: StoreContext,
    batching: CoalescerLimits | null,
  ) {
    this.holds = new HoldPath(ctx, batching);
    this.charges = new ChargePath(ctx, this.holds, batching);
    this.peeks = new Peeks(ctx, batching);
  }

  async authorize(credential: Credential, options: AuthorizeOptions): Promise<AuthorizeResult> {
    const lookup = lookupOf(credential);
    if (!lookup) return refuse(malformedCredential());
    options = this.tokenSided(options);
    const deadlineAt = Date.now() + this.ctx.timeoutMs;
    const request = chargeRequest('authorize', options, options.holdCents, options.holdTtl, deadlineAt);
    return this.charged(lookup, request, options);
  }

  async reserve(credential: Credential, options: ReserveOptions): Promise<AuthorizeResult> {
    const lookup = lookupOf(credential);
    if (!lookup) return refuse(malformedCredential());
    if (!options || typeof options !== 'object')
      throw new AgentKeyInputError('options must be an object', 'options');
    if (!(typeof options.maxCents === 'number' && options.maxCents > 0)) {
      throw new AgentKeyInputError('maxCents must be a positive number of cents', 'maxCents');
    }
    const { maxCents, ttl, ...rest } = this.tokenSided(options);
    const deadlineAt = Date.now() + this.ctx.timeoutMs;
    const request = chargeRequest('reserve', { ...rest, costCents: 0 }, maxCents, ttl, deadlineAt);
    return this.charged(lookup, request, rest);
  }

  async settle(holdId: string | number, options: SettleOptions): Promise<SettleResult> {
    if (!options || typeof options !== 'object')
      throw new AgentKeyInputError('options must be an object', 'options');
    const cost = costToMicros(options.costCents);
    if (!cost.ok) throw new AgentKeyInputError(`costCents: ${cost.reason}`, 'costCents');
    const deadlineAt = Date.now() + this.ctx.timeoutMs;
    return this.holds.close(holdId, cost.micros, true, options.idempotencyKey, options.metadata, deadlineAt);
  }

  async release(holdId: string | number, options: { idempotencyKey?: string }): Promise<SettleResult> {
    const deadlineAt = Date.now() + this.ctx.timeoutMs;
    return this.holds.close(holdId, 0, false, options.idempotencyKey, undefined, deadlineAt);
  }

  /**
   * A charge or hold under its deadline, as a result; one that fails or times out is `unavailable`
   * and resolved later (in-doubt.ts).
   */
  private async charged(lookup: Lookup, request: ChargeRequest, options: AuthorizeOptions) {
    const { ctx } = this;
    const counter = ctx.counter;
    let call: CounterCall | null = null;
    let reserved = false;
    try {
      const now = ctx.now();
      if (tokenExpired(request, now)) return refuse(expiredCredential());
      // Admission first (counter/port.ts): a trusted mirror's refusal needs no PostgreSQL statement.
      if (counter) {
        call = counterCall(lookup, now, request);
        const admission = await counter.admit(call, request.deadlineAt);
        if (admission.kind === 'refused') return toAuthorizeResult(admission.row, now, request, options);
        reserved = admission.kind === 'reserved';
        if (!reserved) request.fresh = true;
      }
      ctx.inDoubt.startPruning();
      const row = await guarded(
        ctx.inDoubt,
        request.rid,
        request.deadlineAt,
        ctx.timeoutMs,
        () => this.charges.charge(lookup, now, request),
        (r) => r?.outcome === 'ok',
      );
      // Durable in PostgreSQL: acknowledged now; the mirror follows PostgreSQL's answer without
      // holding the answer up (a reservation still counts until then, so nothing is under-counted).
      if (counter && call) void counter.settle(call, reserved, row, request.deadlineAt);
      return toAuthorizeResult(row, now, request, options);
    } catch (cause) {
      if (counter && call) void counter.abandon(call, reserved);
      return refuse(storeUnavailable(cause, ctx.tables.id));
    }
  }

  /** The request with only the token scopes that may count (rows.ts `tokenSide`). */
  private tokenSided<T extends { tokenScopes?: readonly string[] | null }>(options: T): T {
    if (!Array.isArray(options?.tokenScopes)) return options;
    return { ...options, tokenScopes: tokenSide(options.tokenScopes, this.ctx.validScopes) };
  }
}

/** A checked charge as the counter port sees it (counter/port.ts). */
function counterCall(lookup: Lookup, now: Date, r: ChargeRequest): CounterCall {
  return {
    by: lookup.by,
    value: lookup.value,
    rid: r.rid,
    nowMs: now.getTime(),
    ttlMs: Math.max(1, r.deadlineAt - Date.now()),
    micros: r.micros,
    holdMicros: r.holdMicros,
    scope: r.scope,
    tokenGrants: r.tokenGrants,
    idempotent: r.idem !== null,
  };
}
