import type { Credential } from '@agentkey/core';
import type { Caller } from '../caller.js';
import { type AccessRefusal, refuse } from '../errors.js';
import { openChild, slipTokenHash } from './slip-token.js';
import { type Slip, slipByTokenHash } from './slips.js';
import type { UseDeps } from './vend.js';

/** A proxied call made with a slip's token: the slip, and its child key as the caller. */
export interface SlipCall {
  slip: Slip;
  caller: Caller;
  /** The child key, opened for this call only: charged by core, never answered or logged. */
  credential: Credential;
}

const gone = (why: string) => refuse('invalid_token', `this permit slip ${why}`);

/**
 * Turns a slip token into the call's caller: found by its hash, not revoked, not past its expiry,
 * its parent alive, its child key opened from the seal and still valid in the store. The grant is
 * checked by the proxy as for any call (a revoked grant stops its slips: 403 no_grant).
 */
export async function resolveSlip(d: UseDeps, token: string): Promise<SlipCall | AccessRefusal> {
  const { ctx } = d;
  const hash = slipTokenHash(token);
  // A malformed token is never looked up; a well-formed unknown one is a miss on a unique index.
  const slip = hash ? await slipByTokenHash(ctx, hash) : null;
  if (!slip || !hash) return refuse('invalid_token', 'unknown permit slip token');
  if (slip.revokedAt !== null || !slip.sealed) return gone('was revoked');
  if (slip.expiresAt.getTime() <= ctx.now().getTime()) return gone('has expired');
  if (!slip.parentLive) return gone('outlived the credential that minted it');
  const opened = openChild(ctx, slip.keyId, hash, slip.sealed);
  if (!opened.ok) return opened;
  const valid = await d.ak.validate(opened.key);
  if (!valid.valid) {
    if (valid.reason === 'budget_exceeded')
      return refuse('budget_exceeded', 'this permit slip spent its budget');
    return gone(valid.reason === 'expired' ? 'has expired' : 'was revoked');
  }
  // The seal binds the row; the store must agree on whose key it is (a swapped row fails here too).
  if (valid.id !== slip.keyId) return refuse('secret_tampered', 'this permit slip does not match its key');
  const expiresAt = valid.expiresAt ? new Date(valid.expiresAt) : slip.expiresAt;
  return {
    slip,
    caller: { kind: 'key', id: valid.id, subject: null, accountId: valid.accountId, scopes: [], expiresAt },
    credential: { key: opened.key },
  };
}
