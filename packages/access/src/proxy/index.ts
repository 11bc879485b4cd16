/** The proxy forwarder of @agentkey/access: pure request checks, then one streamed exchange. */
export { forward } from './forward.js';
export { checkProxyRequest } from './path.js';
export { assertToolRoute } from './route.js';
export {
  PROXY_STATUS,
  type ProxyCode,
  type ProxyLimits,
  type ProxyOutcome,
  type ProxyRefusal,
  type ToolRoute,
} from './types.js';
