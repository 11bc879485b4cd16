import { TtlCache } from '../authorize/ttl-cache.js';
import { hashKey } from '../keys/secret.js';
import type { VerifyResult } from './verifier.js';

/** Cache key for a bearer token: its SHA-256, so no raw token is ever held as a key. */
export const tokenCacheKey = (token: string): string => hashKey(token);

/**
 * Verification answers for verifier plugins, kept until a deadline (callers pass the earlier of
 * their TTL and the token's own expiry), bounded in size. Revoking a subject's row is unaffected:
 * the store reads the row on every request.
 */
export class VerificationCache extends TtlCache<VerifyResult> {}
