/**
 * Money is counted in micros: 1 micro = 1e-4 cent = 1e-6 dollar. Callers speak cents (fractional
 * allowed in the new APIs); the store keeps integers so that sums are exact.
 */
export const MICROS_PER_CENT = 10_000;
/** One charge may not exceed $10M: larger numbers are typos or attacks, and stay far from 2^53. */
export const MAX_COST_CENTS = 1_000_000_000;
/** The keys table's budget columns are INTEGER. */
export const MAX_BUDGET_CENTS = 2_147_483_647;

export type CostCheck = { ok: true; micros: number } | { ok: false; reason: string };

/** Cents → micros, refusing anything that is not an exact, finite, non-negative, bounded amount. */
export function costToMicros(costCents: unknown): CostCheck {
  if (typeof costCents !== 'number' || !Number.isFinite(costCents)) {
    return { ok: false, reason: 'cost must be a finite number of cents' };
  }
  if (costCents < 0) return { ok: false, reason: 'cost must not be negative' };
  if (costCents > MAX_COST_CENTS)
    return { ok: false, reason: `cost must be at most ${MAX_COST_CENTS} cents` };
  const scaled = costCents * MICROS_PER_CENT;
  const micros = Math.round(scaled);
  // 0.04 * 10000 is 400.00000000000006: accept float noise, refuse real precision beyond 1e-4 ¢.
  if (Math.abs(scaled - micros) > 1e-6 * Math.max(1, Math.abs(scaled))) {
    return { ok: false, reason: 'cost has more precision than 0.0001 cents' };
  }
  return { ok: true, micros };
}
