import { AgentKeyInputError } from '../errors/errors.js';

const MINUTE = 60_000;
const UNIT_MS = { m: MINUTE, h: 60 * MINUTE, d: 24 * 60 * MINUTE, mo: 30 * 24 * 60 * MINUTE } as const;
// Ten years: anything longer is a typo, and keeps Date arithmetic far from its limits.
const MAX_MS = 3650 * UNIT_MS.d;

/**
 * agentkey 0.2.0 durations: `<digits><m|h|d|mo>` (minutes, hours, days, 30-day months); zero is allowed.
 * Throws `Invalid duration: x` for anything else.
 */
export function parseDuration(value: unknown): number {
  const text = typeof value === 'string' ? value : String(value);
  const match = typeof value === 'string' ? /^(\d{1,9})(m|h|d|mo)$/.exec(value) : null;
  if (!match) throw new AgentKeyInputError(`Invalid duration: ${printable(text)}`, 'expiresIn');
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms > MAX_MS) throw new AgentKeyInputError(`Invalid duration: ${text} (longer than 3650d)`, 'expiresIn');
  return ms;
}

/**
 * A duration for the APIs 0.2.0 did not have (`update`, `withChildKey`, first-sight policies): as
 * `parseDuration`, but zero is refused — a credential expired at birth is always a mistake there.
 * (0.2.0's `create` and `ensureSubject` keep allowing `0h`, as its suite pins.)
 */
export function parsePositiveDuration(value: unknown, field = 'expiresIn'): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    throw new AgentKeyInputError((error as Error).message, field);
  }
  if (ms === 0) {
    throw new AgentKeyInputError(
      `${field} must be longer than zero, got ${printable(String(value))} (the credential would be expired at birth)`,
      field,
    );
  }
  return ms;
}

/** Echo user input in an error message without control characters or unbounded length. */
export function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
