import { generateKeyPairSync } from 'node:crypto';
import { AgentKeyInputError } from '@agentkey/core';
import { createClerkClient } from '@clerk/backend';
import { describe, expect, it } from 'vitest';
import { type ClerkVerifierOptions, clerkVerifier } from '../src/index.js';

function fieldOf(options: ClerkVerifierOptions): string | undefined {
  try {
    clerkVerifier(options);
  } catch (err) {
    expect(err).toBeInstanceOf(AgentKeyInputError);
    return (err as AgentKeyInputError).field;
  }
  return undefined;
}

const key = 'ak_secret';
const pem = (type: 'rsa' | 'ec', modulusLength = 2048) =>
  (type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  ).publicKey.export({ type: 'spki', format: 'pem' }) as string;

describe('configuration is checked at construction, naming the option', () => {
  it('needs a way to reach Clerk or a key', () => {
    expect(fieldOf({})).toBe('machineSecretKey');
    expect(fieldOf({ secretKey: '' })).toBe('secretKey');
  });

  it('refuses keys next to an injected client', () => {
    const clerkClient = createClerkClient({ machineSecretKey: key });
    expect(fieldOf({ clerkClient, secretKey: 'sk_x' })).toBe('secretKey');
    expect(fieldOf({ clerkClient: {} as never })).toBe('clerkClient');
    expect(fieldOf({ clerkClient })).toBeUndefined();
  });

  it('checks apiUrl', () => {
    expect(fieldOf({ machineSecretKey: key, apiUrl: 'not a url' })).toBe('apiUrl');
  });

  it('bounds cacheTtlMs to 0-30 000, timeoutMs and cacheMaxEntries to positive integers', () => {
    expect(fieldOf({ machineSecretKey: key, cacheTtlMs: 30_001 })).toBe('cacheTtlMs');
    expect(fieldOf({ machineSecretKey: key, cacheTtlMs: -1 })).toBe('cacheTtlMs');
    expect(fieldOf({ machineSecretKey: key, cacheTtlMs: 30_000 })).toBeUndefined();
    expect(fieldOf({ machineSecretKey: key, cacheTtlMs: 0 })).toBeUndefined();
    expect(fieldOf({ machineSecretKey: key, timeoutMs: 0 })).toBe('timeoutMs');
    expect(fieldOf({ machineSecretKey: key, timeoutMs: 1.5 })).toBe('timeoutMs');
    expect(fieldOf({ machineSecretKey: key, cacheMaxEntries: 0 })).toBe('cacheMaxEntries');
  });

  it('refuses a namespace or id that could collide subjects', () => {
    expect(fieldOf({ machineSecretKey: key, namespace: 'a|b' })).toBe('namespace');
    expect(fieldOf({ machineSecretKey: key, namespace: '' })).toBe('namespace');
    expect(fieldOf({ machineSecretKey: key, id: 'has space' })).toBe('id');
  });

  it('checks scopeMap entries', () => {
    expect(fieldOf({ machineSecretKey: key, scopeMap: { mch_a: ['ok', 'not ok'] } })).toBe('scopeMap');
    expect(fieldOf({ machineSecretKey: key, scopeMap: { mch_a: 'read' as never } })).toBe('scopeMap');
    expect(fieldOf({ machineSecretKey: key, scopeMap: ['read'] as never })).toBe('scopeMap');
  });

  it('accepts only the RSA 2048 SPKI PEM that @clerk/backend can use as jwtKey', () => {
    expect(fieldOf({ jwtKey: pem('rsa') })).toBeUndefined();
    expect(fieldOf({ jwtKey: pem('rsa', 4096) })).toBe('jwtKey');
    expect(fieldOf({ jwtKey: pem('ec') })).toBe('jwtKey');
    expect(fieldOf({ jwtKey: 'not a pem' })).toBe('jwtKey');
  });
});
