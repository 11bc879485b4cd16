import { parseRoute, prefixAllows, TOKEN } from './route.js';
import { canonicalPath, checkQuery } from './segments.js';
import { type ProxyRefusal, refuse, type ToolRoute } from './types.js';

/** Never forwarded whatever a route says: TRACE echoes the request (our secret header) back in its body. */
const NEVER = new Set(['TRACE', 'CONNECT']);

/** The method rule alone, which forward() checks again against the request it is handed. */
export function methodAllowed(route: ToolRoute, method: string): boolean {
  return TOKEN.test(method) && !NEVER.has(method.toUpperCase()) && route.methods.includes(method);
}

/**
 * Pure: the method and the raw path after /proxy/:tool (with its ?query) → the upstream URL, or a
 * refusal, before anything is charged. The URL is built by concatenation on the tool's base path,
 * never by resolving a reference, and then checked again as a URL: same origin, no userinfo, inside
 * the base path, exactly the path we checked.
 */
export function checkProxyRequest(
  route: ToolRoute,
  method: string,
  rawPath: string,
): { ok: true; url: URL } | ProxyRefusal {
  const parsed = parseRoute(route);
  if (!methodAllowed(route, method)) {
    return refuse('method_not_allowed', `method ${printable(method)} is not granted for this tool`);
  }
  const at = rawPath.indexOf('?');
  const rawPathPart = at === -1 ? rawPath : rawPath.slice(0, at);
  const query = at === -1 ? '' : rawPath.slice(at + 1);
  const path = canonicalPath(rawPathPart === '' ? '/' : rawPathPart);
  if (path === null || !checkQuery(query)) {
    return refuse(
      'bad_path',
      'the path is not a plain path under the tool (dot segments, encoded slashes, …)',
    );
  }
  if (!parsed.prefixes.some((prefix) => prefixAllows(prefix, path))) {
    return refuse('path_not_allowed', `path ${printable(path)} is not granted for this tool`);
  }
  const target = `${parsed.basePath}${path}`;
  let url: URL;
  try {
    url = new URL(`${parsed.origin}${target}${query ? `?${query}` : ''}`);
  } catch {
    return refuse('bad_path', 'the path does not make a URL');
  }
  // Belt and braces: the URL parser must agree with what we checked.
  if (url.origin !== parsed.origin || url.username || url.password || url.pathname !== target) {
    return refuse('bad_path', 'the path does not stay on the tool');
  }
  return { ok: true, url };
}

/** What an agent sent, safe to echo in a message: printable ASCII, bounded. */
export function printable(text: string): string {
  return JSON.stringify(text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64));
}
