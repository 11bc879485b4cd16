import { type CounterRow, costToMicros, DESCRIPTIVE_FIELDS } from '@agentkey/core';

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

/** The fields a refusal reports (its principal): its id, the descriptive fields, its expiry and revocation; never a secret. */
const DESCRIPTOR = ['id', ...DESCRIPTIVE_FIELDS, 'expires_at', 'revoked_at'] as const;

/**
 * PostgreSQL read the call's account: it passed, or the account refused it (its ceiling or its
 * window). A call refused before (revoked, expired, scope, the key's or its pool's budget, the
 * key's window) says nothing of the account, so nothing of whether it has a ceiling either.
 */
function readAccount(row: CounterRow): boolean {
  return row.outcome === 'ok' || row.cap === 'account' || row.rate_policy === 'account';
}

export function hasAccount(row: CounterRow): boolean {
  return (
    (row.account_limit_cents !== null && row.account_limit_cents !== undefined) ||
    row.rate_policy === 'account'
  );
}

/**
 * The rate window PostgreSQL's row reported for `policy` (it reports one: the one that refused, or
 * the key's before the account's for a passed call), as a mirror's fields; none when it reported
 * another. Its start is known to the second only (the row's reset is whole seconds): the earliest
 * it can be, so the mirror's window never outlasts PostgreSQL's — unless this call opened it.
 */
function rateFields(row: CounterRow, policy: 'key' | 'account', nowMs: number) {
  const sec = Number(row.rate_window_sec);
  const limit = Number(row.rate_limit);
  const left = Number(row.rate_remaining ?? 0);
  const reset = Number(row.rate_reset_sec);
  if (row.rate_policy !== policy || ![sec, limit, left, reset].every(Number.isFinite)) return {};
  // `rah`, the latest it can be: a start the mirror already has between the two is kept (script.ts).
  const earliest = str(nowMs - (sec - reset + 1) * 1000);
  const start = { ra: earliest, rah: str(nowMs - (sec - reset) * 1000) };
  if (row.rate_kind === 'requests') {
    // A passed call that is its window's first opened it: the start is this call's time, exactly.
    const opened = row.outcome === 'ok' && !row.replayed && limit - left === 1;
    const at = opened ? { ra: str(nowMs) } : start;
    return { rw: str(sec), rr: str(limit), rn: str(limit - left), rm: '0', ...at };
  }
  const cap = costToMicros(limit);
  if (row.rate_kind !== 'cents' || !cap.ok) return {};
  return { rw: str(sec), rc: str(limit), rn: '0', rm: str(cap.micros - left), ...start };
}

/**
 * The earliest expiry of the holds in `held` micros: known only when the row's own new hold is all
 * that is held; otherwise '0' (not known: a refusal by held micros is left to PostgreSQL). A
 * replay's row names the hold its first call took, which may be closed: never its expiry.
 */
function heldUntil(row: CounterRow, held: number | null | undefined): string | undefined {
  if (!held || Number(held) <= 0) return undefined;
  if (row.replayed) return '0';
  const own = Number(row.hold_amount_micros ?? 0);
  return own > 0 && own === Number(held) && row.hold_expires_at ? str(row.hold_expires_at) : '0';
}

type N = number | null | undefined;

/** A pool parent's or an account's counter, as a mirror's fields. */
const counter = (row: CounterRow, cap: N, used: N, held: N, reset: N, rate = {}) =>
  json({
    cap: str(cap),
    used: str(used) ?? '0',
    held: str(held) ?? '0',
    hmin: heldUntil(row, held),
    reset: str(reset),
    ...rate,
  });

/** The mirrors' numbers from PostgreSQL's row, as of its answer to a call at `nowMs` (the store's clock). */
export function buildOf(row: CounterRow, nowMs: number): Build {
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
      hmin: heldUntil(row, row.held_micros),
      reset: str(row.budget_reset_at),
      pool: pooled ? String(row.pool_id) : undefined,
      // Unknown (the row did not read the account): the mirror keeps what an earlier row said.
      capped: readAccount(row) ? (capped ? '1' : '0') : undefined,
      row: JSON.stringify(descriptor),
      ...rateFields(row, 'key', nowMs),
    }),
    pool: pooled
      ? counter(row, row.pool_budget_cents, row.pool_used_micros, row.pool_held_micros, row.pool_reset_at)
      : '',
    account: capped
      ? counter(
          row,
          row.account_limit_cents,
          row.account_used_micros,
          row.account_held_micros,
          row.account_reset_at,
          rateFields(row, 'account', nowMs),
        )
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
    policy,
    kind,
    limit,
    remaining,
    resetSec,
    windowSec,
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
    rate_policy: (policy || null) as CounterRow['rate_policy'],
    rate_kind: (kind || null) as CounterRow['rate_kind'],
    rate_limit: num(limit),
    rate_remaining: num(remaining),
    rate_reset_sec: num(resetSec),
    rate_window_sec: num(windowSec),
  } as CounterRow;
}
