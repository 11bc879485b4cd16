import { carriesSecret } from './response-headers.js';
import type { ParsedRoute } from './route.js';
import { canonicalPath } from './segments.js';
import { type ProxyRefusal, refuse } from './types.js';

/**
 * The proxy never follows a redirect. A Location inside the tool (same origin, inside its base path)
 * is passed on rewritten as a relative reference, so an agent that follows it comes back through
 * the proxy (resolved against /proxy/:tool/<path> it lands on /proxy/:tool/<target>). Anywhere else
 * — another host, scheme or port, userinfo, outside the base path, unparsable — is refused: the agent
 * is never handed a way past the tool's bounds, nor a URL that carries the secret.
 */
export function redirectLocation(
  location: string,
  requested: URL,
  route: ParsedRoute,
  forms: readonly string[],
): { ok: true; location: string } | ProxyRefusal {
  const off = refuse('redirect_off_origin', "the upstream redirected outside the tool's base URL");
  let target: URL;
  try {
    target = new URL(location, requested);
  } catch {
    return off;
  }
  if (target.origin !== route.origin || target.username || target.password) return off;
  const path = canonicalPath(target.pathname);
  if (path === null || !path.startsWith(`${route.basePath}/`)) return off;
  if (carriesSecret(location, forms)) {
    return refuse('upstream_error', "the upstream's redirect carries the tool's secret");
  }
  // Directories between the base path and the requested resource: one '../' each.
  const depth = requested.pathname.slice(route.basePath.length).split('/').length - 2;
  const rest = path.slice(route.basePath.length + 1);
  return { ok: true, location: `./${'../'.repeat(depth)}${rest}${target.search}${target.hash}` };
}
