import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export type Mode = 'normal' | 'hang' | 'error500';

/**
 * A stand-in for an IdP's well-known endpoints on 127.0.0.1: the key set at `/jwks` (and at Auth0's
 * `/.well-known/jwks.json`), and discovery documents when
 * set. Everything is mutable so a test can rotate keys or break the server, and every request is
 * recorded so a test can prove what was (not) fetched.
 */
export interface IdpStandIn {
  origin: string;
  jwksUri: string;
  keys: JWK[];
  mode: Mode;
  openidConfiguration: Record<string, unknown> | null;
  oauthServerMetadata: Record<string, unknown> | null;
  requests: string[];
  count(path: string): number;
  close(): Promise<void>;
}

export async function startIdp(): Promise<IdpStandIn> {
  const state: Omit<IdpStandIn, 'origin' | 'jwksUri' | 'count' | 'close'> = {
    keys: [],
    mode: 'normal',
    openidConfiguration: null,
    oauthServerMetadata: null,
    requests: [],
  };
  const server = createServer((req, res) => handle(state, req, res));
  const origin = await listen(server);
  return Object.assign(state, {
    origin,
    jwksUri: `${origin}/jwks`,
    count: (path: string) => state.requests.filter((p) => p === path).length,
    close: () => close(server),
  });
}

function handle(
  state: Omit<IdpStandIn, 'origin' | 'jwksUri' | 'count' | 'close'>,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const path = req.url ?? '/';
  state.requests.push(path);
  if (state.mode === 'hang') return; // never answers; the socket is destroyed on close
  if (state.mode === 'error500') return send(res, 500, { error: 'server_error' });
  if (path === '/jwks' || path === '/.well-known/jwks.json') return send(res, 200, { keys: state.keys });
  if (path === '/.well-known/openid-configuration' && state.openidConfiguration) {
    return send(res, 200, state.openidConfiguration);
  }
  if (path === '/.well-known/oauth-authorization-server' && state.oauthServerMetadata) {
    return send(res, 200, state.oauthServerMetadata);
  }
  send(res, 404, { error: 'not_found' });
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An origin on 127.0.0.1 where nothing listens: connections are refused. */
export async function deadOrigin(): Promise<string> {
  const server = createServer();
  const origin = await listen(server);
  await close(server);
  return origin;
}
