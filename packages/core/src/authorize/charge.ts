import { type Answers, runDurableBatch } from '../batching/batch.js';
import { BUSY, Coalescer, type CoalescerLimits, LANE_IDLE_MS } from '../batching/coalescer.js';
import { costToMicros, MICROS_PER_CENT } from '../budget/money.js';
import type { ChargeRequest, Lookup, StoreContext } from '../context.js';
import { NOT_DELIVERED } from '../counter/port.js';
import { AgentKeyTimeoutError } from '../db/deadline.js';
import { isDataException } from '../db/queryable.js';
import { refuse, unknownCredential } from '../errors/auth-errors.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { checkIdempotencyKey, checkMetadata, checkTtl } from '../input/options.js';
import { isAskedScope } from '../input/values.js';
import { budgetOf, toPrincipal } from '../keys/rows.js';
import type { Selector } from '../sql/columns.js';
import type { AuthorizeOptions, AuthorizeResult } from '../types.js';
import { accountBudgetOf, chargedRow, type EngineRow, rateStateOf, refusalOf } from './engine-row.js';
import type { HoldPath } from './holds.js';
import { InDoubt } from './in-doubt.js';
import { fromRelayed, RELAY_MARGIN_MS, toRelayed } from './relayed.js';

/** The shared argument checks of authorize, reserve and trackUsage. */
export function chargeRequest(
  op: ChargeRequest['op'],
  options: AuthorizeOptions,
  holdCents: number | undefined,
  holdTtl: string | number | undefined,
  deadlineAt: number,
): ChargeRequest {
  if (!options || typeof options !== 'object')
    throw new AgentKeyInputError('options must be an object', 'options');
  if (options.scope !== undefined && !isAskedScope(options.scope)) {
    throw new AgentKeyInputError(
      'scope must be a non-empty string of at most 1024 characters without control characters',
      'scope',
    );
  }
  const cost = costToMicros(options.costCents ?? 0);
  if (!cost.ok) throw new AgentKeyInputError(`costCents: ${cost.reason}`, 'costCents');
  const hold = costToMicros(holdCents ?? 0);
  if (!hold.ok) throw new AgentKeyInputError(`holdCents: ${hold.reason}`, 'holdCents');
  const tokenExpiresAt = options.tokenExpiresAt ?? null;
  if (
    tokenExpiresAt !== null &&
    !(tokenExpiresAt instanceof Date && Number.isFinite(tokenExpiresAt.getTime()))
  ) {
    throw new AgentKeyInputError('tokenExpiresAt must be a valid Date or null', 'tokenExpiresAt');
  }
  const scope = options.scope ?? null;
  return {
    op,
    micros: cost.micros,
    holdMicros: hold.micros,
    holdTtlMs: hold.micros > 0 ? checkTtl(holdTtl) : 0,
    scope,
    tokenGrants: scope === null || !options.tokenScopes || options.tokenScopes.includes(scope),
    tokenExpiresMs: tokenExpiresAt?.getTime() ?? null,
    idem: checkIdempotencyKey(options.idempotencyKey),
    meta: checkMetadata(options.metadata),
    rid: InDoubt.id(),
    deadlineAt,
  };
}

/** A token past its own expiry is refused before the store is asked: nothing charged or held. */
export function tokenExpired(r: ChargeRequest, now: Date): boolean {
  return r.tokenExpiresMs !== null && r.tokenExpiresMs <= now.getTime();
}

/** An engine or lean row as authorize's answer. */
export function toAuthorizeResult(
  row: EngineRow | undefined,
  now: Date,
  request: ChargeRequest,
  options: AuthorizeOptions,
): AuthorizeResult {
  if (!row) return refuse(unknownCredential());
  const refusal = refusalOf(row, now.getTime(), request.scope, request.micros + request.holdMicros);
  if (row.outcome === 'unknown') return refuse(refusal!);
  const principal = toPrincipal(row, options.tokenScopes, options.tokenExpiresAt);
  const budget = budgetOf(row);
  const account = accountBudgetOf(row);
  if (refusal) return { ok: false, error: refusal, principal, budget, ...(account ? { account } : {}) };
  const holdId = row.hold_id === null || row.hold_id === undefined ? null : String(row.hold_id);
  const rate = rateStateOf(row);
  return {
    ok: true,
    principal,
    budget,
    chargedCents: (row.charged_micros ?? request.micros) / MICROS_PER_CENT,
    ...(account ? { account } : {}),
    // From the holds row itself: a replay reports the hold the first call took, not this request's.
    ...(holdId
      ? {
          hold: {
            id: holdId,
            amountCents: Number(row.hold_amount_micros ?? request.holdMicros) / MICROS_PER_CENT,
            expiresAt: new Date(row.hold_expires_at ?? now.getTime() + request.holdTtlMs),
          },
        }
      : {}),
    ...(row.replayed ? { replayed: true } : {}),
    ...(rate ? { rateLimit: rate } : {}),
  };
}

interface ChargeCall {
  lookup: Lookup;
  now: Date;
  request: ChargeRequest;
  /** The row its batch contends on: the account when it had a ceiling when last seen, else the key. */
  row: string;
}

/**
 * One charge or hold. The common cases are one lean statement each — a positive cost on a key
 * with no pool parent (plus the key's account when it has a ceiling), or a hold on a key with no
 * pool and no ceiling (holds.ts); anything else, and any refusal, goes to the engine function,
 * which locks what it touches and says why it refused.
 *
 * With batching on, concurrent lean charges share statements as holds do (coalescer.ts): one
 * write to a key's or an account's row for all the charges on it, one commit for all of them.
 */
export class ChargePath {
  private readonly batches: Record<Selector, Coalescer<ChargeCall, EngineRow>> | null = null;

  constructor(
    private readonly ctx: StoreContext,
    private readonly holds: HoldPath,
    batching: CoalescerLimits | null,
  ) {
    if (batching) {
      const batches = (by: Selector) =>
        new Coalescer<ChargeCall, EngineRow>(
          (calls, settled) => this.chargeMany(by, calls, false, settled),
          batching,
          {
            laneOf: (call) => call.row,
            laneIdleMs: LANE_IDLE_MS,
            runWaiting: (calls, settled) => this.chargeMany(by, calls, true, settled),
            retryAlone: isDataException,
            deadlineOf: (call) => call.request.deadlineAt,
            expired: () => new AgentKeyTimeoutError(ctx.timeoutMs, false),
          },
        );
      this.batches = { key_hash: batches('key_hash'), external_subject: batches('external_subject') };
    }
    ctx.relay?.serve((_row, charge) => this.served(charge));
  }

  /** `served`: another process forwarded the call (relay), so it is charged here, never forwarded. */
  async charge(lookup: Lookup, now: Date, r: ChargeRequest, served = false): Promise<EngineRow | undefined> {
    const { ctx } = this;
    const lean = r.idem === null && r.meta === null;
    if (lean && r.holdMicros > 0) {
      const row = await this.holds.reserveLean(lookup, now, r);
      if (row) return row;
    } else if (lean && r.micros > 0) {
      const seen = ctx.descriptors.get(`${lookup.by}:${lookup.value}`, now.getTime());
      const contended = seen?.capped ? `account:${seen.account_id}` : `key:${lookup.value}`;
      if (!served && ctx.relay) {
        const relayed = await this.forwarded(lookup, now, r, contended);
        if (relayed !== NOT_DELIVERED) return relayed;
      }
      const call = { lookup, now, request: r, row: contended };
      const row = this.batches ? await this.batches[lookup.by].submit(call) : await this.chargeOne(call);
      if (row) return row;
    }
    const row: EngineRow | undefined = (
      await ctx.hot(ctx.sql.engineCharge, [
        lookup.value,
        now.toISOString(),
        r.micros,
        r.scope,
        r.tokenGrants,
        lookup.by === 'external_subject',
        r.holdMicros,
        r.holdMicros > 0 ? new Date(now.getTime() + r.holdTtlMs).toISOString() : null,
        r.idem,
        // authorize, trackUsage and reserve share one namespace: a key reused across them charges once.
        'charge',
        ctx.ledger,
        r.meta,
        r.rid,
      ])
    ).rows[0];
    if (row && row.outcome !== 'unknown') {
      const capped = row.account_limit_cents !== null && row.account_limit_cents !== undefined;
      ctx.descriptors.set(`${lookup.by}:${lookup.value}`, row, capped, now.getTime());
    }
    return row;
  }

  /**
   * The charge, through the process leading its row when another one does (counter/port.ts Relay):
   * its answer, or NOT_DELIVERED (no leader, or none listened) for this process to charge it.
   */
  private async forwarded(lookup: Lookup, now: Date, r: ChargeRequest, row: string) {
    const { ctx } = this;
    const leader = ctx.relay!.leaderOf(row);
    if (!leader || r.deadlineAt - Date.now() < 2 * RELAY_MARGIN_MS) return NOT_DELIVERED;
    const out = await ctx.relay!.forward(leader, row, toRelayed(lookup, now, r));
    if (out && out !== NOT_DELIVERED && out.outcome !== 'unknown') {
      const capped = out.account_limit_cents !== null && out.account_limit_cents !== undefined;
      ctx.descriptors.set(`${lookup.by}:${lookup.value}`, out, capped, now.getTime());
    }
    return out;
  }

  /** A charge another process forwarded (relay): checked, then charged here under its own deadline. */
  private async served(charge: unknown): Promise<EngineRow | undefined> {
    const call = fromRelayed(charge);
    if (!call) throw new AgentKeyInputError('a relayed charge is malformed', 'relay');
    if (call.request.deadlineAt <= Date.now()) throw new AgentKeyTimeoutError(this.ctx.timeoutMs, false);
    // Its row goes back to the forwarding process, whose counter may build a mirror from it.
    return this.charge(call.lookup, call.now, { ...call.request, fresh: true }, true);
  }

  /**
   * A lone charge in its own statement, chosen by what this process last saw of the row: with its
   * account when the account had a ceiling, slim when the descriptor is cached. Undefined: engine.
   */
  private async chargeOne({ lookup, now, request: r }: ChargeCall): Promise<EngineRow | undefined> {
    const { ctx } = this;
    const params = [lookup.value, now.toISOString(), r.micros, r.scope, r.tokenGrants, r.rid];
    const nowMs = now.getTime();
    const cacheKey = `${lookup.by}:${lookup.value}`;
    const cached = ctx.descriptors.get(cacheKey, nowMs);
    if (cached?.capped) {
      const both: EngineRow | undefined = (await ctx.hot(ctx.sql.charges.account(lookup.by), params)).rows[0];
      if (!both) return undefined;
      ctx.descriptors.set(cacheKey, both, true, nowMs);
      return chargedRow(both, both, both);
    }
    // A fresh call's row may build a counter's mirror: the whole row, never the cached descriptor.
    const descriptor = r.fresh ? undefined : cached;
    const fast: EngineRow | undefined = (
      await ctx.hot(ctx.sql.charges.plain(lookup.by, !!descriptor), params)
    ).rows[0];
    if (!fast) return undefined;
    if (!descriptor) ctx.descriptors.set(cacheKey, fast, false, nowMs);
    return chargedRow(descriptor ?? fast, fast);
  }

  /**
   * Concurrent charges in one statement, answered by position (a lone one takes chargeOne, which
   * waits for its row); `wait`: the batch form that waits for locked rows (a busy row's lane).
   */
  private async chargeMany(
    by: Selector,
    calls: readonly ChargeCall[],
    wait = false,
    settled?: () => void,
  ): Promise<Answers> {
    if (calls.length === 1) return [await this.chargeOne(calls[0]!)];
    // A caller holding its row's descriptor gets only the numbers back (the statement's $7).
    const known = calls.map((c) =>
      c.request.fresh ? undefined : this.ctx.descriptors.get(`${by}:${c.lookup.value}`, c.now.getTime()),
    );
    const params = calls.map((c, i) => [
      c.lookup.value,
      c.now.toISOString(),
      c.request.micros,
      c.request.scope,
      c.request.tokenGrants,
      c.request.rid,
      known[i] !== undefined,
    ]);
    const answers = await runDurableBatch(
      this.ctx.hot,
      this.ctx.sql.charges.batch(by, wait),
      params,
      wait,
      settled,
    );
    // Another process holds these rows: with a relay, one process leads each of them from now on.
    if (this.ctx.relay)
      for (let i = 0; i < calls.length; i++)
        if (wait || answers[i] === BUSY) this.ctx.relay.contended(calls[i]!.row);
    return answers.map((row, i) => {
      if (!row || row === BUSY) return row;
      const call = calls[i]!;
      const capped = row.account_limit_cents !== null && row.account_limit_cents !== undefined;
      const descriptor = known[i];
      if (!descriptor)
        this.ctx.descriptors.set(`${by}:${call.lookup.value}`, row, capped, call.now.getTime());
      return chargedRow(descriptor ?? row, row, capped ? row : undefined);
    });
  }
}
