export { type AgentKeyMiddlewareOptions, agentKeyMiddleware, type KeyValidator } from './middleware.js';
export type { RateLimit } from './rate-limit.js';
export type { ErrorReporter } from './report.js';
export type { AgentKeyRequest } from './request.js';
export type { AgentKeyRoutesOptions } from './route-options.js';
export { createAgentKeyRoutes, type KeyStore } from './routes.js';
