/**
 * @agentkey/access — agents reach upstream tools through agentkey: a tools catalog, zero access
 * until a human approves, sealed secrets vended per call or injected by the proxy, permit slips,
 * an append-only audit log and rate limits.
 */
export { Access, type AccessOptions, AccessRefusalError } from './access.js';
export type { Actor, Caller } from './caller.js';
export {
  ACCESS_CODES,
  type AccessCode,
  AccessConfigError,
  type AccessRefusal,
  type AccessResult,
} from './errors.js';
export { DEFAULT_PROXY_LIMITS } from './http/proxy-route.js';
export { type AccessRoutesOptions, accessRoutes } from './http/routes.js';
export type { ProxyCode, ProxyLimits } from './proxy/index.js';
export {
  postgresLimiter,
  type RateLimiter,
  type RedisLike,
  redisLimiter,
  type WindowLimit,
} from './rate/limiter.js';
export type { RateKind, RateLimits } from './rate/rules.js';
export { type KeyRing, parseKeyRing } from './secrets/keyring.js';
export type { AuditAction, AuditQuery, AuditRow } from './store/audit.js';
export { ADMIN_SCOPE, type Approver, type Narrowing } from './store/decisions.js';
export type { GrantInfo, ToolAccess, ToolStatus } from './store/grant-row.js';
export type { Permit, PermitOptions } from './store/permits.js';
export type { AccessRequestBody, RequestFilter } from './store/requests.js';
export type { ResealReport } from './store/reseal.js';
export type { SuggestionSummary } from './store/suggest.js';
export type { ToolDefinition } from './store/tool-definition.js';
export type { ToolInfo } from './store/tools.js';
export type { Vended } from './store/vend.js';
