/**
 * The built-in development OIDC issuer: a real oidc-provider, mounted at `/oidc` on the gateway's
 * own 127.0.0.1 listener, granting client_credentials tokens as RFC 9068 JWTs. Its signing key and
 * its one client's secret live in `<data>/dev-issuer.json` (mode 0600), so tokens and the subjects
 * first sight provisioned survive restarts. For development only: it trusts whoever reads the file.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { issuerStore } from './issuer-store.js';

export const DEV_CLIENT_ID = 'demo-agent';
export const DEV_SCOPE = 'chat';
/** Subjects are `dev-issuer|demo-agent` whatever port the issuer runs on this time. */
export const DEV_NAMESPACE = 'dev-issuer';
const TOKEN_TTL_SEC = 3600;

interface Secrets {
  clientId: string;
  clientSecret: string;
  key: JWK;
}

export interface DevIssuer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  secretsFile: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

async function loadSecrets(dataDir: string): Promise<{ secrets: Secrets; file: string }> {
  const file = join(dataDir, 'dev-issuer.json');
  mkdirSync(dataDir, { recursive: true });
  if (existsSync(file)) return { secrets: JSON.parse(readFileSync(file, 'utf8')) as Secrets, file };
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const secrets: Secrets = {
    clientId: DEV_CLIENT_ID,
    clientSecret: randomBytes(24).toString('base64url'),
    key: { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' },
  };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { secrets, file };
}

/** `origin` is the gateway's (`http://127.0.0.1:<port>`); tokens are for `resource`, their `aud`. */
export async function startDevIssuer(dataDir: string, origin: string, resource: string): Promise<DevIssuer> {
  const { secrets, file } = await loadSecrets(dataDir);
  const issuer = `${origin}/oidc`;
  // Loaded only when the issuer runs: the module warns on import, which a failed start must not print.
  const { default: Provider } = await import('oidc-provider');
  const provider = new Provider(issuer, {
    adapter: issuerStore(),
    clients: [
      {
        client_id: secrets.clientId,
        client_secret: secrets.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [secrets.key] },
    // Cookies sign nothing a client_credentials grant uses; fixed keys keep the provider quiet.
    cookies: { keys: [randomBytes(32).toString('hex')] },
    ttl: { ClientCredentials: TOKEN_TTL_SEC },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: DEV_SCOPE,
          audience: resource,
          accessTokenTTL: TOKEN_TTL_SEC,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  const callback = provider.callback();
  return {
    issuer,
    clientId: secrets.clientId,
    clientSecret: secrets.clientSecret,
    secretsFile: file,
    handle: callback,
  };
}
