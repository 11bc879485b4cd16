import type { TableNames } from './identifier.js';

/** The engine's tables and functions, named from the keys table so two deployments never share them. */
export interface EngineNames {
  accounts: string;
  holds: string;
  /** The holds table's id sequence (its BIGSERIAL's default name). */
  holdIds: string;
  ledger: string;
  idempotency: string;
  /** The in-doubt claims (sql/requests.ts). */
  requests: string;
  /** The named limiters' windows (sql/rate-rules.ts). */
  rateWindows: string;
  /** The refusal tally, per minute and code (tally/refusal-tally.ts). */
  refusals: string;
  /** The console overview's summary row (@agentkey/console). */
  consoleOverview: string;
  /** migrate()'s record of what it applied (sql/migrate.ts). */
  schemaVersion: string;
  fn(name: string): string;
}

export function engineNames(t: TableNames): EngineNames {
  return {
    accounts: t.derived('_accounts'),
    holds: t.derived('_holds'),
    holdIds: t.derived('_holds_id_seq'),
    ledger: t.derived('_ledger'),
    idempotency: t.derived('_idempotency'),
    requests: t.derived('_requests'),
    rateWindows: t.derived('_rate_windows'),
    refusals: t.derived('_refusals'),
    consoleOverview: t.derived('_console_overview'),
    schemaVersion: t.derived('_schema_version'),
    fn: (name) => t.derived(`_${name}`),
  };
}
