export { AgentKey } from './agent-key.js';
export { costToMicros, MAX_BUDGET_CENTS, MAX_COST_CENTS, MICROS_PER_CENT } from './budget/money.js';
export { addMonthsUtc, type BudgetPeriod, firstReset, nextReset, PERIODS } from './budget/period.js';
export { AgentKeyTimeoutError, DEFAULT_TIMEOUT_MS } from './db/deadline.js';
export { fromPGlite, type PGliteLike, type Queryable } from './db/queryable.js';
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
export { parseDuration } from './input/duration.js';
export { isScope } from './input/values.js';
export { intersectScopes } from './keys/rows.js';
export { hashKey } from './keys/secret.js';
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
