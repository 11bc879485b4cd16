import { TtlCache } from '../authorize/ttl-cache.js';
import { hashKey } from '../keys/secret.js';
import type { VerifyResult } from './verifier.js';

/** Cache key for a bearer token: its SHA-256, so no raw token is ever held as a key. */
export const tokenCacheKey = (token: string): string => hashKey(token);

/**
 * Verification answers for verifier plugins, kept until a deadline (callers pass the earlier of
 * their TTL and the token's own expiry), bounded in size. A cached answer never decides alone: the
 * store reads the subject's row on every request, so revoking or narrowing the row takes effect at
 * once whatever is cached. What a cached answer can keep is the IdP's side (a token revoked at the
 * IdP stays accepted until the TTL); `forget` drops a subject's answers when its row changes.
 */
export class VerificationCache extends TtlCache<VerifyResult> {
  /** Drops the answers naming `subject` (null: all): a verifier's `forget`. */
  forget(subject: string | null): void {
    if (subject === null) this.clear();
    else this.deleteWhere((result) => result.ok && result.identity.subject === subject);
  }
}
