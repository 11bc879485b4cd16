import { AgentKeyInputError, isScope, type Verifier } from '@agentkey/core';

/** RFC 9728 protected-resource metadata: what `agentKeyAuth` publishes when asked to. */
export interface ProtectedResourceOption {
  /**
   * This API's resource identifier (RFC 9728 §1.2; the `aud` an OAuth client asks tokens for):
   * an https URL without query or fragment; http only for a loopback host (development).
   */
  resource: string;
  /** `scopes_supported`; default the store's `validScopes` (omitted when it has none). */
  scopes?: readonly string[];
  /** `resource_name`: a human-readable name for the API. */
  name?: string;
}

export interface ProtectedResource {
  /** The path `agentKeyAuth` answers: `/.well-known/oauth-protected-resource` plus the resource's path. */
  path: string;
  /** Where the metadata is, as challenges name it (`resource_metadata`). */
  url: string;
  document: Readonly<Record<string, unknown>>;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const OPTION = 'protectedResource';

/**
 * Checks the option once, at construction, and builds the document: `resource`, the issuers the
 * verifiers trust (`authorization_servers`), the scopes, and the one bearer method we read.
 * Throws AgentKeyInputError naming the option (`protectedResource.resource`…).
 */
export function protectedResource(
  option: unknown,
  verifiers: readonly Verifier[],
  validScopes: readonly string[] | null | undefined,
): ProtectedResource {
  if (!option || typeof option !== 'object' || Array.isArray(option)) {
    throw new AgentKeyInputError(`agentKeyAuth: ${OPTION} must be { resource, scopes?, name? }`, OPTION);
  }
  const { resource, scopes, name } = option as Record<string, unknown>;
  const url = checkResource(resource);
  const supported = scopes === undefined ? (validScopes ?? null) : checkScopes(scopes);
  if (name !== undefined && (typeof name !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(name))) {
    throw new AgentKeyInputError(
      `agentKeyAuth: ${OPTION}.name must be 1-200 printable ASCII characters`,
      `${OPTION}.name`,
    );
  }
  const issuers = [...new Set(verifiers.flatMap((v) => (typeof v.issuer === 'string' ? [v.issuer] : [])))];
  // RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
  const resourcePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const path = `${WELL_KNOWN}${resourcePath}`;
  return {
    path,
    url: `${url.origin}${path}`,
    document: Object.freeze({
      resource: resource as string,
      ...(issuers.length > 0 ? { authorization_servers: issuers } : {}),
      ...(supported && supported.length > 0 ? { scopes_supported: [...supported] } : {}),
      bearer_methods_supported: ['header'],
      ...(name === undefined ? {} : { resource_name: name }),
    }),
  };
}

function checkResource(resource: unknown): URL {
  const field = `${OPTION}.resource`;
  const refuse = (why: string) => {
    throw new AgentKeyInputError(`agentKeyAuth: ${field} ${why}`, field);
  };
  if (typeof resource !== 'string' || !URL.canParse(resource)) return refuse('must be an absolute URL');
  const url = new URL(resource);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    return refuse('must be an https URL (http only for localhost, 127.0.0.1 or [::1])');
  }
  if (url.search || url.hash || resource.includes('#')) return refuse('must have no query or fragment');
  if (url.username || url.password) return refuse('must not carry credentials');
  return url;
}

function checkScopes(scopes: unknown): readonly string[] {
  const field = `${OPTION}.scopes`;
  if (!Array.isArray(scopes) || !scopes.every((s) => isScope(s))) {
    throw new AgentKeyInputError(
      `agentKeyAuth: ${field} must be an array of scopes (1-128 printable ASCII characters without space, quote or backslash)`,
      field,
    );
  }
  return [...new Set(scopes as string[])];
}
