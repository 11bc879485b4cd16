/**
 * @agentkey/console — the admin web page: spend, keys and subjects, accounts, approvals, tools and
 * the audit log, server-rendered and mountable in any Express app.
 */
export { agentKeyConsole, CONTENT_SECURITY_POLICY, type ConsoleOptions } from './console.js';
export { escapeHtml } from './html/escape.js';
export type { ConsoleOidcOptions } from './oidc.js';
