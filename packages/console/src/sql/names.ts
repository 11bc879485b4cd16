import { type TableNames, tableNames } from '@agentkey/core';

/** The tables the console reads, named from the keys table as core and access name them. */
export interface ConsoleTables {
  keys: string;
  accounts: string;
  holds: string;
  ledger: string;
  audit: string;
  grants: string;
  /** Core's refusal tally, per minute and code (core migration 004). */
  refusals: string;
  /** The overview's summary row, recomputed in the background (core migration 004). */
  overview: string;
}

export function consoleTables(tableName: string): ConsoleTables {
  const t: TableNames = tableNames(tableName);
  return {
    keys: t.keys,
    accounts: t.derived('_accounts'),
    holds: t.derived('_holds'),
    ledger: t.derived('_ledger'),
    audit: t.derived('_access_audit'),
    grants: t.derived('_access_grants'),
    refusals: t.derived('_refusals'),
    overview: t.derived('_console_overview'),
  };
}

export const MICROS_PER_CENT = 10_000;
export const cents = (micros: unknown) => Number(micros ?? 0) / MICROS_PER_CENT;
