import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { close, listen } from '../../packages/oidc/test/support/idp-server.js';

export interface OidcProviderOptions {
  /** client_id → client_secret; every client may use the client_credentials grant. */
  clients: Record<string, string>;
  /** The resource server (API) the tokens are for: their `aud`. */
  audience: string;
  /** Scopes the API offers; a client asks for some of them. */
  scope: string;
  /** Access-token lifetime in seconds. */
  ttlSec?: number;
}

export interface OidcProviderStandIn {
  issuer: string;
  /** A client_credentials access token (an RFC 9068 JWT) for `clientId`, asking for `scope`. */
  token(clientId: string, scope: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real, OpenID-certified authorization server (oidc-provider) on 127.0.0.1, issuing
 * client_credentials JWT access tokens. Verifiers find its keys through discovery, as in production.
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProviderStandIn> {
  const server: Server = createServer();
  const issuer = await listen(server); // listen first: the issuer must carry the real port
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const ttl = options.ttlSec ?? 300;
  const provider = new Provider(issuer, {
    clients: Object.entries(options.clients).map(([client_id, client_secret]) => ({
      client_id,
      client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'provider-key', use: 'sig', alg: 'RS256' }] },
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: options.scope,
          audience: options.audience,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    async token(clientId, scope) {
      const secret = options.clients[clientId];
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: options.audience, scope }),
      });
      if (response.status !== 200) {
        throw new Error(`oidc-provider refused a token: ${response.status} ${await response.text()}`);
      }
      return ((await response.json()) as { access_token: string }).access_token;
    },
    close: () => close(server),
  };
}
