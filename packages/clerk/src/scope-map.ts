import { isScope } from '@agentkey/core';
import type { M2MToken } from '@clerk/backend';
import type { ScopeMap } from './options.js';

export type MappedScopes = { ok: true; scopes: readonly string[] | null } | { ok: false; problem: string };

/**
 * Agentkey scopes for a verified token. Without a map: null, since Clerk's M2M `scopes` name
 * machines, not capabilities. With a record: the union of the entries for the token's machine ids
 * (none match: no scopes at all).
 */
export function mapScopes(scopeMap: ScopeMap | null, token: M2MToken): MappedScopes {
  if (scopeMap === null) return { ok: true, scopes: null };
  if (typeof scopeMap !== 'function') {
    const machines = Array.isArray(token.scopes) ? token.scopes : [];
    const granted = machines.flatMap((machine) =>
      Object.hasOwn(scopeMap, machine) ? scopeMap[machine]! : [],
    );
    return { ok: true, scopes: Object.freeze([...new Set(granted)]) };
  }
  let scopes: unknown;
  try {
    scopes = scopeMap(token);
  } catch (err) {
    return { ok: false, problem: `scopeMap threw ${err instanceof Error ? err.name : typeof err}` };
  }
  if (scopes === null) return { ok: true, scopes: null };
  if (!Array.isArray(scopes) || !scopes.every(isScope)) {
    return { ok: false, problem: 'scopeMap returned something other than null or an array of scopes' };
  }
  return { ok: true, scopes: Object.freeze([...new Set(scopes)]) };
}
