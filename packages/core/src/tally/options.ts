import { AgentKeyInputError } from '../errors/errors.js';

/** The `refusalTally` option, checked: how often to flush and how long buckets are kept. */
export interface TallyLimits {
  flushMs: number;
  retentionDays: number;
}

export const DEFAULT_TALLY: TallyLimits = { flushMs: 10_000, retentionDays: 30 };

/** `false`: no tally. Unset: on, with the defaults. */
export function checkTally(option: unknown): TallyLimits | null {
  if (option === false) return null;
  if (option === undefined || option === true) return DEFAULT_TALLY;
  if (!option || typeof option !== 'object' || Array.isArray(option)) {
    throw new AgentKeyInputError(
      'refusalTally must be false or { flushMs?, retentionDays? }',
      'refusalTally',
    );
  }
  const { flushMs = DEFAULT_TALLY.flushMs, retentionDays = DEFAULT_TALLY.retentionDays } = option as {
    flushMs?: unknown;
    retentionDays?: unknown;
  };
  if (!Number.isSafeInteger(flushMs) || (flushMs as number) < 100 || (flushMs as number) > 60_000) {
    throw new AgentKeyInputError(
      'refusalTally.flushMs must be a whole number of ms from 100 to 60000',
      'refusalTally',
    );
  }
  if (
    !Number.isSafeInteger(retentionDays) ||
    (retentionDays as number) < 1 ||
    (retentionDays as number) > 366
  ) {
    throw new AgentKeyInputError(
      'refusalTally.retentionDays must be a whole number from 1 to 366',
      'refusalTally',
    );
  }
  return { flushMs: flushMs as number, retentionDays: retentionDays as number };
}
