// 0.2.0 exported the store and its Express glue from one module: with AgentKey here too, an app
// switches by changing that one import path.
export { AgentKey } from '@agentkey/core';
export { type AgentKeyAuthOptions, agentKeyAuth } from './agent-key-auth.js';
export type { CostOption } from './cost.js';
export { COST_LOCAL } from './hold.js';
export { type AgentKeyMiddlewareOptions, agentKeyMiddleware, type KeyValidator } from './middleware.js';
export { type AgentKeyPrincipal, isAgentKeyPrincipal } from './principal.js';
export type { RateLimit } from './rate-limit.js';
export type { ErrorReporter } from './report.js';
export type { AgentKeyAuthRequest, AgentKeyRequest } from './request.js';
export type { AgentKeyRoutesOptions } from './route-options.js';
export { createAgentKeyRoutes, type KeyStore } from './routes.js';
