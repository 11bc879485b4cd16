import type { Budget, KeyInfo } from '@agentkey/core';
import type { Colours } from '../cli.js';

/** Cents as dollars: two decimals, more (up to six) for the fractions of a cent per-token prices make. */
export function money(cents: number | null): string {
  if (cents === null) return 'unlimited';
  const [whole, fraction = ''] = (Math.abs(cents) / 100).toFixed(6).split('.');
  const digits = fraction.replace(/0+$/, '').padEnd(2, '0');
  return `${cents < 0 ? '-' : ''}$${whole}.${digits}`;
}

export function when(date: Date | null | undefined): string {
  return date ? date.toISOString().replace('.000Z', 'Z') : '-';
}

/** used / limit (period), and what is held. */
export function budgetText(b: Budget): string {
  const base = `${money(b.usedCents)} / ${money(b.limitCents)}${b.period ? ` per ${b.period}` : ''}`;
  return b.heldCents > 0 ? `${base} (+${money(b.heldCents)} held)` : base;
}

export function statusOf(info: KeyInfo, now: Date, c: Colours): string {
  if (info.revokedAt) return c.red('revoked');
  if (info.expiresAt && info.expiresAt <= now) return c.yellow('expired');
  if (info.budget.remainingCents !== null && info.budget.remainingCents <= 0) return c.yellow('spent');
  return c.green('active');
}

export function scopesText(scopes: readonly string[] | null): string {
  if (scopes === null) return 'all';
  return scopes.length === 0 ? 'none' : scopes.join(',');
}

/** A key's or subject's fields, for `show`: never a secret (the store has only its hash). */
export function keyFields(info: KeyInfo, now: Date, c: Colours): Array<[string, string]> {
  return [
    ['id', String(info.id)],
    ['kind', info.kind],
    ...(info.subject ? ([['subject', info.subject]] as Array<[string, string]>) : []),
    ['name', info.name],
    ['account', info.accountId],
    ['user', info.userId ?? '-'],
    ['prefix', info.keyPrefix || '-'],
    ['scopes', scopesText(info.scopes)],
    ['budget', budgetText(info.budget)],
    ['remaining', money(info.budget.remainingCents)],
    ['resets', when(info.budget.resetAt)],
    ['pool parent', info.poolParentId === null ? '-' : String(info.poolParentId)],
    ['expires', when(info.expiresAt)],
    ['created', when(info.createdAt)],
    ['last used', when(info.lastUsedAt)],
    ['status', statusOf(info, now, c)],
  ];
}
