import type { CoalescerLimits } from '../batching/coalescer.js';
import { costToMicros } from '../budget/money.js';
import type { ChargeRequest, Lookup, StoreContext } from '../context.js';
import { expiredCredential, malformedCredential, refuse } from '../errors/auth-errors.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { storeUnavailable } from '../errors/store-unavailable.js';
import { lookupOf } from '../keys/lookup.js';
import { tokenSide } from '../keys/rows.js';
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
  private readonly holds: HoldPath;

  constructor(
    private readonly ctx: StoreContext,
    batching: CoalescerLimits | null,
  ) {
    this.holds = new HoldPath(ctx, batching);
    this.charges = new ChargePath(ctx, this.holds, batching);
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
    try {
      const now = ctx.now();
      if (tokenExpired(request, now)) return refuse(expiredCredential());
      ctx.inDoubt.startPruning();
      const row = await guarded(
        ctx.inDoubt,
        request.rid,
        request.deadlineAt,
        ctx.timeoutMs,
        () => this.charges.charge(lookup, now, request),
        (r) => r?.outcome === 'ok',
      );
      return toAuthorizeResult(row, now, request, options);
    } catch (cause) {
      return refuse(storeUnavailable(cause, ctx.tables.id));
    }
  }

  /** The request with only the token scopes that may count (rows.ts `tokenSide`). */
  private tokenSided<T extends { tokenScopes?: readonly string[] | null }>(options: T): T {
    if (!Array.isArray(options?.tokenScopes)) return options;
    return { ...options, tokenScopes: tokenSide(options.tokenScopes, this.ctx.validScopes) };
  }
}
