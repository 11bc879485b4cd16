import { checkIdempotencyKey, checkMetadata } from '../checks.js';
import type { ChargeRequest, Lookup, StoreContext } from '../context.js';
import { accountBudgetOf, type EngineRow } from '../engine-row.js';
import { AgentKeyInputError } from '../errors.js';
import { holdRefusal, passedRow } from '../results.js';
import { budgetOf } from '../rows.js';
import type { SettleResult } from '../types.js';
import { MICROS_PER_CENT } from './money.js';

/** Hold ids are the holds table's bigserial, passed as text. */
const HOLD_ID = /^[1-9][0-9]{0,17}$/;

/**
 * Holds on the request path: a reserve on a key with no pool and no account ceiling, and a settle
 * or release whose cost fits inside its hold, are one lean statement each; anything else is the
 * engine's (sql/engine.ts).
 */
export class HoldPath {
  constructor(private readonly ctx: StoreContext) {}

  /** A hold on a key with no pool and no account ceiling: one statement, or undefined to use the engine. */
  async reserveLean(lookup: Lookup, now: Date, r: ChargeRequest): Promise<EngineRow | undefined> {
    const { ctx } = this;
    const cacheKey = `${lookup.by}:${lookup.value}`;
    const nowMs = now.getTime();
    if (ctx.descriptors.get(cacheKey, nowMs)?.capped) return undefined;
    const row: EngineRow | undefined = (
      await ctx.hot(ctx.sql.chargeFastHold(lookup.by), [
        lookup.value,
        now.toISOString(),
        r.micros,
        r.scope,
        r.tokenGrants,
        r.holdMicros,
        new Date(nowMs + r.holdTtlMs).toISOString(),
      ])
    ).rows[0];
    if (!row) return undefined;
    ctx.descriptors.set(cacheKey, row, false, nowMs);
    return {
      ...passedRow(row, row),
      hold_id: row.hold_id,
      hold_amount_micros: row.hold_amount_micros,
      hold_expires_at: row.hold_expires_at,
    };
  }

  /** Settles (`settle`: charges `micros`, frees the rest) or releases one hold. */
  async close(
    holdId: string | number,
    micros: number,
    settle: boolean,
    idempotencyKey: unknown,
    metadata: unknown,
  ): Promise<SettleResult> {
    const { ctx } = this;
    const id = typeof holdId === 'number' ? String(holdId) : holdId;
    if (typeof id !== 'string' || !HOLD_ID.test(id)) {
      throw new AgentKeyInputError('holdId must be a hold id returned by reserve or authorize', 'holdId');
    }
    const idem = checkIdempotencyKey(idempotencyKey);
    const meta = checkMetadata(metadata);
    try {
      const now = this.ctx.now();
      const iso = now.toISOString();
      // A cost within the hold on a plain key closes in one statement; anything else goes to the engine.
      const lean: EngineRow | undefined =
        idem === null && meta === null
          ? (await ctx.hot(ctx.sql.closeFast, [id, iso, micros, settle])).rows[0]
          : undefined;
      const row: EngineRow = lean
        ? { ...passedRow(lean, lean), charged_micros: lean.charged_micros, shortfall_micros: 0 }
        : (await ctx.hot(ctx.sql.engineClose, [id, iso, micros, settle, idem, ctx.ledger, meta])).rows[0];
      if (row.outcome !== 'ok') return { ok: false, error: holdRefusal(row.outcome) };
      ctx.descriptors.clear();
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
    } catch (cause) {
      return {
        ok: false,
        error: { code: 'unavailable', description: 'The key store cannot answer.', cause },
      };
    }
  }
}
