import type { ChargePath } from '../authorize/charge.js';
import { guarded, InDoubt } from '../authorize/in-doubt.js';
import { costToMicros } from '../budget/money.js';
import type { ChargeRequest, Lookup, StoreContext } from '../context.js';
import { inTime } from '../db/deadline.js';
import { checkIdempotencyKey } from '../input/options.js';
import { remainingWholeCents, toValidateResult, usedWholeCents, validateRefusal } from '../keys/rows.js';
import type { TrackUsageOptions, TrackUsageResult, ValidateFailure, ValidateResult } from '../types.js';
import type { PeekedRow, Peeks } from './peeks.js';

/**
 * agentkey 0.2.0's request path, with its exact answers: `validate` reads the row (writing only
 * when a period rolls or last_used_at is a minute old), `trackUsage` charges whole cents.
 */
export function validateLookup(
  ctx: StoreContext,
  lookup: Lookup | null,
  peeks?: Peeks,
): Promise<ValidateResult | ValidateFailure> {
  if (!lookup) return Promise.resolve({ valid: false, reason: 'invalid' });
  return inTime(validateRow(ctx, lookup, peeks), ctx.timeoutMs);
}

async function validateRow(
  ctx: StoreContext,
  lookup: Lookup,
  peeks: Peeks | undefined,
): Promise<ValidateResult | ValidateFailure> {
  const now = ctx.now();
  const params = [lookup.value, now.toISOString()];
  let row: PeekedRow | undefined = peeks
    ? await peeks.peek(lookup, now)
    : (await ctx.hot(ctx.sql.peek(lookup.by), params)).rows[0];
  if (row?.needs_write) row = (await ctx.hot(ctx.sql.touch(lookup.by), params)).rows[0];
  if (!row) return { valid: false, reason: 'invalid' };
  const refusal = validateRefusal(row, now.getTime());
  if (refusal) return { valid: false, reason: refusal };
  return toValidateResult(row);
}

export async function trackRow(
  ctx: StoreContext,
  charges: ChargePath,
  lookup: Lookup | null,
  options: TrackUsageOptions,
): Promise<TrackUsageResult> {
  const costCents: unknown = options?.costCents;
  if (typeof costCents !== 'number' || !Number.isFinite(costCents))
    return { success: false, reason: 'invalid_cost' };
  if (costCents <= 0) return { success: true };
  // 0.2.0 bills whole cents, rounding up.
  const cost = costToMicros(Math.ceil(costCents));
  if (!cost.ok) return { success: false, reason: 'invalid_cost' };
  if (!lookup) return { success: false, reason: 'invalid_key' };
  const deadlineAt = Date.now() + ctx.timeoutMs;
  const request: ChargeRequest = {
    op: 'track',
    micros: cost.micros,
    holdMicros: 0,
    holdTtlMs: 0,
    scope: null,
    tokenGrants: true,
    tokenExpiresMs: null,
    idem: checkIdempotencyKey(options.idempotencyKey),
    meta: null,
    rid: InDoubt.id(),
    deadlineAt,
  };
  const now = ctx.now();
  const row = await guarded(
    ctx.inDoubt,
    request.rid,
    deadlineAt,
    ctx.timeoutMs,
    () => charges.charge(lookup, now, request),
    (r) => r?.outcome === 'ok',
  );
  if (!row || row.outcome === 'unknown' || row.outcome === 'revoked' || row.outcome === 'expired') {
    return { success: false, reason: 'invalid_key' };
  }
  if (row.outcome === 'rate_limited') return { success: false, reason: 'rate_limited' };
  if (row.outcome !== 'ok') return { success: false, reason: 'budget_exceeded' };
  return {
    success: true,
    budgetUsedCents: usedWholeCents(row),
    budgetRemainingCents: remainingWholeCents(row),
  };
}
