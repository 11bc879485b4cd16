import type { HoldError } from '../types.js';

/** Stable codes of a settle or release that did nothing (as AuthCode is for authorize). */
export const HoldCode = {
  notFound: 'hold_not_found',
  expired: 'hold_expired',
  closed: 'hold_closed',
  idempotencyConflict: 'idempotency_conflict',
  unavailable: 'unavailable',
} as const satisfies Record<string, HoldError['code']>;
export type HoldCode = (typeof HoldCode)[keyof typeof HoldCode];

/** A closed hold's outcome from the engine, as a stable code. */
export function holdRefusal(outcome: string): HoldError {
  switch (outcome) {
    case 'no_hold':
      return { code: HoldCode.notFound, description: 'No hold has that id.' };
    case 'hold_expired':
      return {
        code: HoldCode.expired,
        description: 'The hold expired before it was settled; nothing was charged.',
      };
    case 'idempotency_conflict':
      return {
        code: HoldCode.idempotencyConflict,
        description: 'That idempotency key was already used to close another hold; nothing was done.',
      };
    default:
      return { code: HoldCode.closed, description: `The hold is already ${outcome.slice('hold_'.length)}.` };
  }
}
