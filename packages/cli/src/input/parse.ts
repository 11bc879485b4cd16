import { type BudgetPeriod, MAX_BUDGET_CENTS, PERIODS, parseDuration } from '@agentkey/core';
import { InvalidArgumentError } from 'commander';

/**
 * What a parser returns for "no value" (`--budget none`, `--scopes all`): commander turns a
 * parser's null into '', so the commands turn this into null (`orNull`).
 */
export const NONE = Symbol('none');
export type Maybe<T> = T | typeof NONE;
export const orNull = <T>(value: Maybe<T>): T | null => (value === NONE ? null : value);

// Each parser is a commander argParser: a bad value becomes commander's one-line
// "error: option '--x <v>' argument 'y' is invalid. <reason>" and exit code 1.

const echo = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/** Whole cents from 0 (a budget, a top-up). */
export function cents(value: string): number {
  const n = /^\d{1,12}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > MAX_BUDGET_CENTS) {
    throw new InvalidArgumentError(
      `A budget is whole cents from 0 to ${MAX_BUDGET_CENTS}${value.startsWith('-') ? ' (not negative)' : ''}.`,
    );
  }
  return n;
}

/** Whole cents, or `none` for no budget at all. */
export function centsOrNone(value: string): Maybe<number> {
  return value === 'none' ? NONE : cents(value);
}

/** A record's id (a key, a request, a grant): a positive whole number the database can hold. */
export function idOf(what: string) {
  return (value: string): number => {
    if (!/^[1-9]\d{0,9}$/.test(value) || Number(value) > 2_147_483_647) {
      throw new InvalidArgumentError(
        `A ${what} id is a positive whole number (at most 2147483647), got ${echo(value)}.`,
      );
    }
    return Number(value);
  };
}

/** A key's (or subject's) row id. */
export const rowId = idOf('key');

/** Comma-separated words (methods, paths), blanks dropped. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A duration as agentkey takes it: `30m`, `12h`, `7d`, `3mo`. */
export function duration(value: string): string {
  try {
    parseDuration(value);
  } catch {
    throw new InvalidArgumentError(
      `A duration is a number and m, h, d or mo (30m, 12h, 7d, 3mo), got ${echo(value)}.`,
    );
  }
  return value;
}

/**
 * A key's lifetime: a duration longer than zero (a key expired at birth is always a slip), or
 * `none` (it never expires).
 */
export function lifetime(value: string): Maybe<string> {
  if (value === 'none') return NONE;
  if (parseDuration(duration(value)) === 0) {
    throw new InvalidArgumentError(
      `A lifetime is longer than zero, got ${echo(value)}: the key would be expired at birth.`,
    );
  }
  return value;
}

export function period(value: string): Maybe<BudgetPeriod> {
  if (value === 'none') return NONE;
  if (!(PERIODS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`A period is ${PERIODS.join(', ')} or none, got ${echo(value)}.`);
  }
  return value as BudgetPeriod;
}

/**
 * Comma-separated scopes; `none` for none (a key that can call nothing scoped), `all` for no
 * restriction. Each word is trimmed; a blank word, or `none`/`all` inside a list, is a slip.
 */
export function scopes(value: string): Maybe<string[]> {
  const trimmed = value.trim();
  if (trimmed === 'all') return NONE;
  if (trimmed === 'none') return [];
  const words = value.split(',').map((s) => s.trim());
  const slip = words.find((w) => w === '' || w === 'none' || w === 'all');
  if (slip !== undefined) {
    throw new InvalidArgumentError(
      `Scopes are comma-separated words (chat,embed), or all or none alone, got ${echo(value)}${slip === '' ? ' (a blank word)' : ` (${slip} in a list)`}.`,
    );
  }
  return words;
}

/** A whole number from 1 to `max` (a --limit). */
export function count(max: number) {
  return (value: string): number => {
    const n = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= 1 && n <= max))
      throw new InvalidArgumentError(`Expected a whole number from 1 to ${max}, got ${echo(value)}.`);
    return n;
  };
}

/**
 * A point in time: an ISO date or date-time (`2026-06-01`, `2026-06-01T12:00Z`), `now`, or a
 * duration meaning that long ago (`24h`, `7d`). Resolved against `now` when the command runs. A
 * date-time without an offset is UTC, as a bare date is (never the machine's time zone); a day or
 * a time the calendar lacks is refused, not rolled over.
 */
export function time(value: string): (now: Date) => Date {
  if (value === 'now') return (now) => now;
  if (/^\d{1,9}(m|h|d|mo)$/.test(value)) {
    const ms = parseDuration(value);
    return (now) => new Date(now.getTime() - ms);
  }
  const at = isoTime(value);
  if (at === null) {
    throw new InvalidArgumentError(
      `A time is an ISO date (2026-06-01), now, or a duration ago (24h, 7d), got ${echo(value)}.`,
    );
  }
  return () => at;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function isoTime(value: string): Date | null {
  const m = ISO.exec(value);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', offset] = m;
  // The fields as written must be a real day and time (setUTCFullYear: years below 100 too).
  const day = new Date(0);
  day.setUTCFullYear(+y!, +mo! - 1, +d!);
  day.setUTCHours(+h, +mi, +sec);
  const real =
    day.getUTCFullYear() === +y! &&
    day.getUTCMonth() === +mo! - 1 &&
    day.getUTCDate() === +d! &&
    day.getUTCHours() === +h &&
    day.getUTCMinutes() === +mi &&
    day.getUTCSeconds() === +sec;
  if (!real) return null;
  const at = new Date(m[4] === undefined ? `${value}T00:00:00Z` : offset ? value : `${value}Z`);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** A price in cents, to four decimals (a tool's cost per call: `0.5` is half a cent). */
export function priceCents(value: string): number {
  if (!/^\d{1,9}(\.\d{1,4})?$/.test(value)) {
    throw new InvalidArgumentError(
      `A cost is cents from 0, to four decimals (0.5)${value.startsWith('-') ? ', not negative' : ''}, got ${echo(value)}.`,
    );
  }
  return Number(value);
}
