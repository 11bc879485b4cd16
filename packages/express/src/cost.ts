import { AgentKeyInputError, costToMicros } from '@agentkey/core';
import type { Request } from 'express';

/** Cents to charge per request: a fixed amount, or computed from the request (sync or async). */
export type CostOption = number | ((req: Request) => number | Promise<number>);

export type CostResult = { ok: true; cents: number } | { ok: false; error: unknown };

/** Checks the option at construction: a bad fixed amount throws naming the option (`cost`, `hold`). */
export function checkCost(cost: unknown, option: 'cost' | 'hold' = 'cost'): CostOption {
  if (cost === undefined) return 0;
  if (typeof cost === 'function') return cost as CostOption;
  const check = costToMicros(cost);
  if (!check.ok) throw new AgentKeyInputError(`${option}: ${check.reason}`, option);
  return cost as number;
}

/**
 * This request's cost. A function that throws or returns anything but a finite, non-negative,
 * 0.0001 ¢-exact amount is a bug of the server, not of the caller: the request is not charged.
 */
export async function resolveCost(
  cost: CostOption,
  req: Request,
  option: 'cost' | 'hold' = 'cost',
): Promise<CostResult> {
  if (typeof cost === 'number') return { ok: true, cents: cost };
  let cents: unknown;
  try {
    cents = await cost(req);
  } catch (error) {
    return { ok: false, error };
  }
  const check = costToMicros(cents);
  if (!check.ok) {
    return {
      ok: false,
      error: new AgentKeyInputError(
        `${option} function returned ${describeValue(cents)}: ${check.reason}`,
        option,
      ),
    };
  }
  return { ok: true, cents: cents as number };
}

export function describeValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
}
