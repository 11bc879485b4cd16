import { type IdentityMapping, type MapIdentity, readScopes, readString } from '@agentkey/oidc';

const CLIENT_SUFFIX = '@clients';

/**
 * Auth0's caller is the client application: `azp` (default dialect) or `client_id` (RFC 9068
 * dialect), else `sub` minus `@clients`. Rights are `scope` ∪ `permissions` (RBAC). When `sub` is a
 * user rather than the client itself, that user is recorded as `delegatedBy`.
 */
export const auth0Identity: MapIdentity = (claims): IdentityMapping => {
  const azp = readString(claims, 'azp');
  if (!azp.ok) return azp;
  const clientId = readString(claims, 'client_id');
  if (!clientId.ok) return clientId;
  const sub = readString(claims, 'sub');
  if (!sub.ok) return sub;
  const fromSub = sub.value?.endsWith(CLIENT_SUFFIX) ? sub.value.slice(0, -CLIENT_SUFFIX.length) : undefined;
  if (azp.value && clientId.value && azp.value !== clientId.value) {
    return { ok: false, description: 'The token names two different clients in "azp" and "client_id".' };
  }
  const id = azp.value ?? clientId.value ?? fromSub;
  if (!id)
    return {
      ok: false,
      description: 'The token names no client ("azp", "client_id" or "sub" ending in @clients).',
    };
  if (fromSub !== undefined && fromSub !== id) {
    return { ok: false, description: 'The token\'s "sub" names another client than "azp"/"client_id".' };
  }
  const scopes = readScopes(claims, ['scope', 'permissions']);
  if (!scopes.ok) return scopes;
  const delegatedBy = sub.value !== undefined && fromSub === undefined ? sub.value : undefined;
  return { ok: true, id, scopes: scopes.scopes, ...(delegatedBy ? { delegatedBy } : {}) };
};
