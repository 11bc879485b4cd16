import type { AuthError } from '@agentkey/core';
import { describe, expect, it } from 'vitest';
import { answerFor, serverError } from '../src/auth-answer.js';
import { bearerChallenge, quoteParam } from '../src/challenge.js';
import { isAgentKeyPrincipal } from '../src/principal.js';

const answer = (error: Omit<AuthError, 'description'>) => answerFor({ description: 'why', ...error }, 'api');

describe('answerFor', () => {
  it('maps each outcome to its status and challenge (RFC 6750 §3)', () => {
    expect(answer({ code: 'missing_credential' })).toEqual({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="api"' },
      body: { error: 'missing_credential', error_description: 'why' },
    });
    expect(answer({ code: 'invalid_request' })).toMatchObject({
      status: 400,
      headers: { 'WWW-Authenticate': 'Bearer realm="api", error="invalid_request"' },
    });
    expect(answer({ code: 'invalid_token', reason: 'revoked' })).toMatchObject({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="api", error="invalid_token"' },
    });
    expect(answer({ code: 'insufficient_scope', scope: 'chat' })).toMatchObject({
      status: 403,
      headers: { 'WWW-Authenticate': 'Bearer realm="api", error="insufficient_scope", scope="chat"' },
    });
    expect(answer({ code: 'unprovisioned' })).toEqual({
      status: 403,
      headers: {},
      body: { error: 'unprovisioned', error_description: 'why' },
    });
  });

  it('sends Retry-After on 429 only for a budget that resets, and always on 503', () => {
    expect(answer({ code: 'budget_exceeded', cap: 'key', retryAfterSec: 3600 })).toMatchObject({
      status: 429,
      headers: { 'Retry-After': '3600' },
    });
    expect(answer({ code: 'budget_exceeded', cap: 'key', retryAfterSec: 0.2 }).headers).toEqual({
      'Retry-After': '1',
    });
    expect(answer({ code: 'budget_exceeded', cap: 'key' }).headers).toEqual({});
    expect(answer({ code: 'unavailable', retryAfterSec: 30 })).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '30' },
    });
    expect(answer({ code: 'unavailable' }).headers).toEqual({ 'Retry-After': '5' });
    expect(answer({ code: 'unavailable', retryAfterSec: Number.NaN }).headers).toEqual({
      'Retry-After': '5',
    });
  });

  it('never puts the cause into the body', () => {
    const reply = answer({ code: 'unavailable', cause: new Error('password=hunter2') });
    expect(reply.body).toEqual({ error: 'unavailable', error_description: 'why' });
    expect(JSON.stringify(reply)).not.toContain('hunter2');
  });

  it('answers an unknown code as a server error rather than letting it through', () => {
    const reply = answerFor({ code: 'brand_new' as AuthError['code'], description: 'x' }, 'api');
    expect(reply.status).toBe(500);
    expect(reply.body.error).toBe('server_error');
    expect(serverError().status).toBe(500);
  });
});

describe('challenge quoting', () => {
  it('escapes quote and backslash, and replaces what a header cannot carry', () => {
    expect(quoteParam('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(quoteParam('x\r\ny')).toBe('"x??y"');
    expect(bearerChallenge('my "realm"', { error: 'insufficient_scope', scope: 'a\\b' })).toBe(
      'Bearer realm="my \\"realm\\"", error="insufficient_scope", scope="a\\\\b"',
    );
  });
});

describe('isAgentKeyPrincipal', () => {
  it("tells agentKeyAuth's principal from agentKeyMiddleware's validate result", () => {
    expect(isAgentKeyPrincipal({ kind: 'key', id: 1, accountId: 'a' })).toBe(true);
    expect(isAgentKeyPrincipal({ kind: 'subject', id: 1, accountId: 'a' })).toBe(true);
    expect(isAgentKeyPrincipal({ valid: true, id: 1, accountId: 'a' })).toBe(false);
    expect(isAgentKeyPrincipal(undefined)).toBe(false);
    expect(isAgentKeyPrincipal({ kind: 'other' })).toBe(false);
  });
});
