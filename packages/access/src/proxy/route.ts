import { canonicalPath } from './segments.js';
import type { ToolRoute } from './types.js';

/** RFC 9110 token: method and header names. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface ParsedRoute {
  origin: string;
  /** The base path without its trailing slash ('' for the root). */
  basePath: string;
  /** Canonical prefixes, relative to basePath. */
  prefixes: readonly string[];
  protocol: 'http:' | 'https:';
}

/**
 * Checks a route's configuration and returns its parsed form. A bad route is a configuration fault,
 * not an agent's mistake, so it throws, naming the field (never the secret: the route holds none).
 */
export function parseRoute(route: ToolRoute): ParsedRoute {
  const fail = (field: string, why: string): never => {
    throw new TypeError(`ToolRoute ${JSON.stringify(route.toolId)}: ${field} ${why}`);
  };
  let base: URL;
  try {
    base = new URL(route.baseUrl);
  } catch {
    return fail('baseUrl', 'is not a URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') fail('baseUrl', 'must be http: or https:');
  if (base.username || base.password) fail('baseUrl', 'must not carry userinfo');
  if (base.search || base.hash || route.baseUrl.includes('?') || route.baseUrl.includes('#')) {
    fail('baseUrl', 'must not carry a query or fragment');
  }
  // The path as written, not as the URL parser rewrote it: '/a/../b' or '%2e' is a mistake to name.
  const written = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(\/[^?#]*)?/.exec(route.baseUrl)?.[1] ?? '/';
  const basePath = canonicalPath(written);
  if (basePath === null || basePath !== base.pathname) fail('baseUrl', 'has a path that is not canonical');
  if (!TOKEN.test(route.secretHeader)) fail('secretHeader', 'is not a header name');
  if (!route.secretTemplate.includes('{secret}')) fail('secretTemplate', "has no '{secret}' placeholder");
  for (const method of route.methods) {
    if (!TOKEN.test(method) || method !== method.toUpperCase())
      fail('methods', `has ${JSON.stringify(method)}`);
  }
  const prefixes = route.pathPrefixes.map((prefix) => {
    const canonical = prefix.startsWith('/') ? canonicalPath(prefix) : null;
    return canonical ?? fail('pathPrefixes', `has ${JSON.stringify(prefix)}: not a canonical absolute path`);
  });
  return {
    origin: base.origin,
    basePath: base.pathname.replace(/\/$/, ''),
    prefixes,
    protocol: base.protocol as 'http:' | 'https:',
  };
}

/** Throws a TypeError naming the field when a route is misconfigured (for the catalog, at save time). */
export function assertToolRoute(route: ToolRoute): void {
  parseRoute(route);
}

/** A prefix ending in '/' matches by string; otherwise only whole segments ('/repos' ≠ '/repository'). */
export function prefixAllows(prefix: string, path: string): boolean {
  if (prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}
