import type { CounterRow } from '@agentkey/core';

/** What a mirror is built from: a PostgreSQL answer's numbers, every value a string (exact in Lua). */
export interface Build {
  key: string;
  pool: string;
  account: string;
}

const str = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(Number(v)) ? undefined : String(Math.round(Number(v)));

const json = (fields: Record<string, string | undefined>) =>
  JSON.stringify(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));

/** The descriptive fields a refusal reports (its principal); never a secret (no hash, no key). */
const DESCRIPTOR = [
  'id',
  'account_id',
  'user_id',
  'name',
  'scopes',
  'budget_period',
  'delegated_by',
  'external_subject',
  'expires_at',
  'revoked_at',
] as const;

export function hasAccount(row: CounterRow): boolean {
  return row.account_limit_cents !== null && row.account_limit_cents !== undefined;
}

/** The mirrors' numbers from PostgreSQL's row, as of its answer. */
export function buildOf(row: CounterRow): Build {
  const pooled = row.pool_id !== null && row.pool_id !== undefined;
  const capped = hasAccount(row);
  const descriptor = Object.fromEntries(DESCRIPTOR.map((f) => [f, row[f] ?? null]));
  return {
    key: json({
      rev: row.revoked_at === null || row.revoked_at === undefined ? undefined : '1',
      exp: str(row.expires_at),
      sc: row.scopes === null || row.scopes === undefined ? undefined : JSON.stringify(row.scopes),
      cap: str(row.budget_cents),
      used: str(row.used_micros) ?? '0',
      held: str(row.held_micros) ?? '0',
      reset: str(row.budget_reset_at),
      pool: pooled ? String(row.pool_id) : undefined,
      capped: capped ? '1' : '0',
      row: JSON.stringify(descriptor),
    }),
    pool: pooled
      ? json({
          cap: str(row.pool_budget_cents),
          used: str(row.pool_used_micros) ?? '0',
          held: str(row.pool_held_micros) ?? '0',
          reset: str(row.pool_reset_at),
        })
      : '',
    account: capped
      ? json({
          cap: str(row.account_limit_cents),
          used: str(row.account_used_micros) ?? '0',
          held: str(row.account_held_micros) ?? '0',
          reset: str(row.account_reset_at),
        })
      : '',
  };
}

const num = (s: string | undefined) => (s === undefined || s === '' ? null : Number(s));

/** A refusal the admission script answered ({'X', …}), in the engine row's shape. */
export function refusalRow(reply: string[], poolId: number | null): CounterRow {
  const [
    ,
    outcome,
    cap,
    descriptor,
    used,
    held,
    reset,
    kcap,
    pcap,
    pused,
    pheld,
    preset,
    acap,
    aused,
    aheld,
    areset,
  ] = reply;
  const d = JSON.parse(descriptor ?? '{}') as Record<string, unknown>;
  return {
    ...(d as object),
    outcome: outcome as CounterRow['outcome'],
    cap: (cap || null) as CounterRow['cap'],
    charged_micros: 0,
    shortfall_micros: 0,
    replayed: false,
    budget_cents: num(kcap),
    used_micros: num(used) ?? 0,
    held_micros: num(held) ?? 0,
    budget_reset_at: num(reset),
    pool_id: poolId,
    pool_budget_cents: num(pcap),
    pool_used_micros: num(pused),
    pool_held_micros: num(pheld),
    pool_reset_at: num(preset),
    account_limit_cents: num(acap),
    account_used_micros: num(aused),
    account_held_micros: num(aheld),
    account_reset_at: num(areset),
  } as CounterRow;
}
