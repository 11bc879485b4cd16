// The package's API. Exports tagged internal (JSDoc) are here for the sibling packages only: they
// import them at run time, applications do not see them (the published declarations leave them
// out). A comment with the tag strips the statement under it, so this one must not spell it.
export { AgentKey } from './agent-key.js';
export type { RateWindowDecision } from './authorize/rate-window.js';
/** @internal For @agentkey/redis: the budget rules rendered as Lua, from the SQL rules' source. */
export { luaBudgetRules } from './budget/lua-rules.js';
/** @internal For @agentkey/express. */
export { costToMicros, MAX_BUDGET_CENTS } from './budget/money.js';
export type { BudgetPeriod } from './budget/period.js';
/** @internal For @agentkey/express. */
export { PERIODS } from './budget/period.js';
export { type Change, type ChangeFeed, type ChangeTarget, parseChange } from './changes/feed.js';
export type {
  Counter,
  CounterAdmission,
  CounterCall,
  CounterInvalidation,
  CounterRow,
  CounterTarget,
  Relay,
  RelayedCharge,
} from './counter/port.js';
export { NOT_DELIVERED } from './counter/port.js';
export { AgentKeyTimeoutError } from './db/deadline.js';
export { consoleStoreReporter, reportSafely, type StoreReporter } from './db/pool-errors.js';
export { fromPGlite, type PGliteLike, PreparedStatementLostError, type Queryable } from './db/queryable.js';
export { AgentKeyInputError, AuthCode, type AuthError } from './errors/errors.js';
export { checkFirstSeenPolicy } from './gate/first-seen.js';
export {
  type AuthenticateOptions,
  type AuthenticateResult,
  Gate,
  type GateOptions,
  type GatePrincipal,
} from './gate/gate.js';
export { tokenCacheKey, VerificationCache } from './gate/verification-cache.js';
export {
  checkSubjectNamespace,
  type ExternalIdentity,
  type FirstSeenPolicy,
  namespacedSubject,
  type Verifier,
  type VerifyResult,
} from './gate/verifier.js';
/** @internal For @agentkey/express. */
export { parseDuration } from './input/duration.js';
/** @internal For @agentkey/express and @agentkey/clerk; isIdent for @agentkey/cli (an actor the ledger takes). */
export { isIdent, isScope } from './input/values.js';
/** @internal For @agentkey/redis: the one list of a row's descriptive fields. */
export { DESCRIPTIVE_FIELDS } from './keys/key-row.js';
/** @internal For @agentkey/express. */
export { grantsAll } from './keys/rows.js';
// Public as a type only: @agentkey/access's declarations name it.
export type { TableNames } from './sql/identifier.js';
/** @internal For @agentkey/access: its tables are named from the keys table, validated once here. */
export { tableNames } from './sql/identifier.js';
/** @internal For @agentkey/access: its .sql files take the placeholders core's do. */
export { render as renderSql } from './sql/render.js';
export type {
  AccountInfo,
  AgentKeyOptions,
  AuditOptions,
  AuthorizeOptions,
  AuthorizeResult,
  Budget,
  BudgetTarget,
  CreateKeyOptions,
  CreateKeyResult,
  Credential,
  EnsureSubjectOptions,
  Hold,
  HoldError,
  HoldInfo,
  KeyInfo,
  LedgerEntry,
  LedgerOptions,
  ListHoldsOptions,
  MigrateOptions,
  Principal,
  RateLimit,
  RateLimitInfo,
  RateLimitState,
  ReserveOptions,
  SettleOptions,
  SettleResult,
  SpendOptions,
  SpendReport,
  TrackUsageOptions,
  TrackUsageResult,
  UpdateOptions,
  ValidateFailure,
  ValidateResult,
} from './types.js';
