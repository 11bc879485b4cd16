import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentKey } from '@agentkey/core';
import { type AgentKeyAuthRequest, agentKeyAuth } from '@agentkey/express';
import { oidcVerifier } from '@agentkey/oidc';
import { openDb, type TestDb } from '@agentkey/test-support/db.js';
import { type OidcProviderStandIn, startOidcProvider } from '@agentkey/test-support/oidc-provider.js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RESOURCE = 'http://127.0.0.1/api';

describe('agentKeyAuth protectedResource (RFC 9728)', () => {
  let idp: OidcProviderStandIn;
  let db: TestDb;
  let ak: AgentKey;
  let server: Server;
  let origin: string;
  const metadataUrl = 'http://127.0.0.1/.well-known/oauth-protected-resource/api';

  beforeAll(async () => {
    idp = await startOidcProvider({ clients: { robot: 'robot-secret' }, audience: RESOURCE, scope: 'chat' });
    db = await openDb('postgres');
    ak = new AgentKey({ pool: db.pool, tableName: db.table, validScopes: ['chat', 'search'] });
    await ak.migrate();
    const auth = agentKeyAuth({
      agentKey: ak,
      verifiers: [oidcVerifier({ issuer: idp.issuer, audience: RESOURCE, allowInsecureIssuer: true })],
      firstSeen: { scopes: ['chat'], budgetCents: 100 },
      scope: 'chat',
      protectedResource: { resource: RESOURCE },
      onError: () => {},
    });
    const app = express();
    app.use(auth);
    app.get('/api/chat', (req, res) => {
      res.json({ subject: (req as AgentKeyAuthRequest).agentKey.subject });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await idp.close();
    await db.close();
  });

  it('publishes the resource, the issuers its verifiers trust, its scopes and the header method', async () => {
    const response = await fetch(`${origin}/.well-known/oauth-protected-resource/api`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      resource: RESOURCE,
      authorization_servers: [idp.issuer],
      scopes_supported: ['chat', 'search'],
      bearer_methods_supported: ['header'],
    });
    // Only the path RFC 9728 derives from the resource: the bare well-known path is not this API's.
    expect((await fetch(`${origin}/.well-known/oauth-protected-resource`)).status).toBe(401);
  });

  it('points every challenge at the metadata, and still lets a real token in', async () => {
    const missing = await fetch(`${origin}/api/chat`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe(
      `Bearer realm="api", resource_metadata="${metadataUrl}"`,
    );
    const forged = await fetch(`${origin}/api/chat`, { headers: { authorization: 'Bearer ak_nope' } });
    expect(forged.headers.get('www-authenticate')).toBe(
      `Bearer realm="api", error="invalid_token", resource_metadata="${metadataUrl}"`,
    );
    const token = await idp.token('robot', 'chat');
    const ok = await fetch(`${origin}/api/chat`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ subject: `${idp.issuer}|robot` });
  });

  it('refuses bad option values at construction, naming the option', () => {
    const build = (protectedResource: unknown, scopes?: unknown) => () =>
      agentKeyAuth({
        agentKey: ak,
        protectedResource: (scopes === undefined
          ? protectedResource
          : { resource: RESOURCE, scopes }) as never,
      });
    const named = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as { field?: string }).field ?? (error as Error).message;
      }
      return 'no error';
    };
    expect(named(build('https://api.example.com'))).toBe('protectedResource');
    expect(named(build({ resource: 'not a url' }))).toBe('protectedResource.resource');
    expect(named(build({ resource: 'http://api.example.com' }))).toBe('protectedResource.resource');
    expect(named(build({ resource: 'https://api.example.com/#x' }))).toBe('protectedResource.resource');
    expect(named(build({ resource: 'https://api.example.com/?a=1' }))).toBe('protectedResource.resource');
    expect(named(build(null, ['chat', 'two words']))).toBe('protectedResource.scopes');
    expect(named(build({ resource: 'https://api.example.com', name: '' }))).toBe('protectedResource.name');
    expect(named(build({ resource: 'https://api.example.com', scopes: ['chat'] }))).toBe('no error');
  });
});
