export { AgentKey } from './agent-key.js';
export { costToMicros, MAX_BUDGET_CENTS, MAX_COST_CENTS, MICROS_PER_CENT } from './budget/money.js';
export { addMonthsUtc, type BudgetPeriod, firstReset, nextReset, PERIODS } from './budget/period.js';
export { fromPGlite, type PGliteLike, type Queryable } from './db.js';
export { AgentKeyTimeoutError, DEFAULT_TIMEOUT_MS } from './deadline.js';
export { parseDuration } from './duration.js';
export { AgentKeyInputError, AuthCode, type AuthError } from './errors.js';
export { checkFirstSeenPolicy } from './first-seen.js';
export {
  type AuthenticateOptions,
  type AuthenticateResult,
  Gate,
  type GateOptions,
  type GatePrincipal,
} from './gate.js';
export { isScope } from './input.js';
export { hashKey } from './key.js';
export { intersectScopes } from './rows.js';
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
  KeyInfo,
  Principal,
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
export { tokenCacheKey, VerificationCache } from './verification-cache.js';
export {
  checkSubjectNamespace,
  type ExternalIdentity,
  type FirstSeenPolicy,
  namespacedSubject,
  type Verifier,
  type VerifyResult,
} from './verifier.js';
