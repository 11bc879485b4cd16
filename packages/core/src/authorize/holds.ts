import { type Answers, type BatchRow, runDurableBatch } from '../batching/batch.js';
import { Coalescer, type CoalescerLimits, LANE_IDLE_MS } from '../batching/coalescer.js';
import { MICROS_PER_CENT } from '../budget/money.js';
import type { ChargeRequest, Lookup, StoreContext } from '../context.js';
import { AgentKeyTimeoutError } from '../db/deadline.js';
import { isDataException, type Statement } from '../db/queryable.js';
import { AgentKeyInputError } from '../errors/errors.js';
import { holdRefusal } from '../errors/hold-errors.js';
import { storeUnavailable } from '../errors/store-unavailable.js';
import { checkIdempotencyKey, checkMetadata } from '../input/options.js';
import { budgetOf } from '../keys/rows.js';
import type { Selector } from '../sql/columns.js';
import type { SettleResult } from '../types.js';
import { accountBudgetOf, chargedRow, type EngineRow } from './engine-row.js';
import { guarded, InDoubt } from './in-doubt.js';

/** Hold ids are the holds table's bigserial, passed as text. */
const HOLD_ID = /^[1-9][0-9]{0,17}$/;

interface ReserveCall {
  lookup: Lookup;
  now: Date;
  request: ChargeRequest;
}

interface CloseCall {
  id: string;
  now: Date;
  micros: number;
  settle: boolean;
  rid: string;
  deadlineAt: number;
}

/**
 * Holds on the request path. A reserve on a key with no pool and no account ceiling, and a settle
 * or release whose cost fits inside its hold, are lean statements (sql/holds.ts); anything else —
 * and anything a lean statement does not take — is the engine's (sql/engine.ts).
 *
 * With batching on, concurrent lean calls share statements (group commit, coalescer.ts): each
 * still gets its own outcome, decided on its own key's newest row, and a call the batch statement
 * does not take goes to the engine alone, as it would have anyway.
 */
export class HoldPath {
  private readonly reserves: Record<Selector, Coalescer<ReserveCall, BatchRow>> | null;
  private readonly closes: Coalescer<CloseCall, BatchRow> | null;

  constructor(
    private readonly ctx: StoreContext,
    batching: CoalescerLimits | null,
  ) {
    if (batching) {
      const expired = () => new AgentKeyTimeoutError(ctx.timeoutMs, false);
      const reserves = (by: Selector) =>
        // Several reserves on one key may share a statement: it admits them in arrival order.
        new Coalescer<ReserveCall, BatchRow>(
          (calls, settled) => this.reserveMany(by, calls, false, settled),
          batching,
          {
            laneOf: (call) => call.lookup.value,
            laneIdleMs: LANE_IDLE_MS,
            runWaiting: (calls, settled) => this.reserveMany(by, calls, true, settled),
            retryAlone: isDataException,
            deadlineOf: (call) => call.request.deadlineAt,
            expired,
          },
        );
      this.reserves = { key_hash: reserves('key_hash'), external_subject: reserves('external_subject') };
      // A second close of one hold waits for the next statement, where it finds the hold closed.
      // A close's row is its hold's key, unknown here: a busy one waits alone, in its own lane.
      this.closes = new Coalescer<CloseCall, BatchRow>(
        (calls, settled) => this.closeMany(calls, false, settled),
        batching,
        {
          keyOf: (call) => call.id,
          laneOf: (call) => call.id,
          runWaiting: (calls, settled) => this.closeMany(calls, true, settled),
          retryAlone: isDataException,
          deadlineOf: (call) => call.deadlineAt,
          expired,
        },
      );
    } else {
      this.reserves = null;
      this.closes = null;
    }
  }

  /** A hold on a key with no pool and no account ceiling, or undefined to use the engine. */
  async reserveLean(lookup: Lookup, now: Date, request: ChargeRequest): Promise<EngineRow | undefined> {
    const { ctx } = this;
    const cacheKey = `${lookup.by}:${lookup.value}`;
    const nowMs = now.getTime();
    if (ctx.descriptors.get(cacheKey, nowMs)?.capped) return undefined;
    const call = { lookup, now, request };
    const row = this.reserves
      ? await this.reserves[lookup.by].submit(call)
      : await this.lone(ctx.sql.holds.reserve(lookup.by), reserveParams(call));
    if (!row) return undefined;
    ctx.descriptors.set(cacheKey, row, false, nowMs);
    return {
      ...chargedRow(row, row),
      hold_id: row.hold_id,
      hold_amount_micros: row.hold_amount_micros,
      hold_expires_at: row.hold_expires_at,
    };
  }

  /**
   * Settles (`settle`: charges `micros`, frees the rest) or releases one hold, by `deadlineAt`;
   * a failure or a timeout is `unavailable`, and whatever it may have committed is voided.
   */
  async close(
    holdId: string | number,
    micros: number,
    settle: boolean,
    idempotencyKey: unknown,
    metadata: unknown,
    deadlineAt: number,
  ): Promise<SettleResult> {
    const { ctx } = this;
    const id = typeof holdId === 'number' ? String(holdId) : holdId;
    if (typeof id !== 'string' || !HOLD_ID.test(id)) {
      throw new AgentKeyInputError('holdId must be a hold id returned by reserve or authorize', 'holdId');
    }
    const idem = checkIdempotencyKey(idempotencyKey);
    const meta = checkMetadata(metadata);
    const rid = InDoubt.id();
    const attempt = async () => {
      const now = ctx.now();
      let row: EngineRow | undefined;
      if (idem === null && meta === null) {
        const call = { id, now, micros, settle, rid, deadlineAt };
        const lean = this.closes
          ? await this.closes.submit(call)
          : await this.lone(ctx.sql.holds.close, closeParams(call));
        if (lean)
          row = { ...chargedRow(lean, lean), charged_micros: lean.charged_micros, shortfall_micros: 0 };
      }
      row ??= (
        await ctx.hot(ctx.sql.engineClose, [
          id,
          now.toISOString(),
          micros,
          settle,
          idem,
          ctx.ledger,
          meta,
          rid,
        ])
      ).rows[0] as EngineRow;
      // The hold's mirrors (key, pool, account) no longer match: rebuilt on their next call.
      if (ctx.counter && row.outcome === 'ok' && row.account_id)
        await ctx.counter.invalidate({ accountId: row.account_id });
      return settleResult(row);
    };
    try {
      return await guarded(ctx.inDoubt, rid, deadlineAt, ctx.timeoutMs, attempt, (r) => r.ok);
    } catch (cause) {
      return { ok: false, error: storeUnavailable(cause, this.ctx.tables.id) };
    }
  }

  /**
   * One statement for any number of reserves (several may share a key), answering by position. A
   * lone call takes the single-request statement: it is cheaper to run than the batch form.
   */
  private async reserveMany(
    by: Selector,
    calls: readonly ReserveCall[],
    wait = false,
    settled?: () => void,
  ): Promise<Answers> {
    const holds = this.ctx.sql.holds;
    if (calls.length === 1) return [await this.lone(holds.reserve(by), reserveParams(calls[0]!))];
    return runDurableBatch(
      this.ctx.hot,
      holds.reserveBatch(by, wait),
      calls.map(reserveParams),
      wait,
      settled,
    );
  }

  /** `wait`: the form that waits for locked keys (a busy close's lane); a lone close always does. */
  private async closeMany(calls: readonly CloseCall[], wait = false, settled?: () => void): Promise<Answers> {
    const holds = this.ctx.sql.holds;
    if (calls.length === 1) return [await this.lone(holds.close, closeParams(calls[0]!))];
    return runDurableBatch(
      this.ctx.hot,
      wait ? holds.closeBatchWait : holds.closeBatch,
      calls.map(closeParams),
      wait,
      settled,
    );
  }

  private async lone(statement: Statement, params: unknown[]): Promise<BatchRow | undefined> {
    return (await this.ctx.hot(statement, params)).rows[0];
  }
}

const reserveParams = ({ lookup, now, request: r }: ReserveCall): unknown[] => [
  lookup.value,
  now.toISOString(),
  r.micros,
  r.scope,
  r.tokenGrants,
  r.holdMicros,
  new Date(now.getTime() + r.holdTtlMs).toISOString(),
  r.rid,
];

const closeParams = (c: CloseCall): unknown[] => [c.id, c.now.toISOString(), c.micros, c.settle, c.rid];

function settleResult(row: EngineRow): SettleResult {
  if (row.outcome !== 'ok') return { ok: false, error: holdRefusal(row.outcome) };
  const account = accountBudgetOf(row);
  return {
    ok: true,
    chargedCents: Number(row.charged_micros ?? 0) / MICROS_PER_CENT,
    shortfallCents: Number(row.shortfall_micros ?? 0) / MICROS_PER_CENT,
    ...(row.cap && Number(row.shortfall_micros) > 0
      ? { cap: row.cap === 'account' ? 'account' : 'key' }
      : {}),
    budget: budgetOf(row),
    ...(account ? { account } : {}),
    ...(row.replayed ? { replayed: true } : {}),
  };
}
