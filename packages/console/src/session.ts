import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Sessions are signed, expiring tokens (HMAC-SHA256 under a server secret): nothing about a session
 * is stored, so there is nothing to hash at rest. A key session names its row, and every request
 * re-reads it, so revoking that key (or removing its admin scope) ends its sessions at once; an
 * OIDC session names the human and lasts its TTL. The CSRF token and
 * the confirm tokens are HMACs of the session's nonce: a page can only post what this session was
 * shown.
 */
export interface Session {
  /** The admin key's row, for a key sign-in; null for an OIDC sign-in. */
  keyId: number | null;
  /** The OIDC human (`sub`, and `email` when the ID token had one), for an OIDC sign-in. */
  human: { sub: string; email: string | null } | null;
  nonce: string;
  expiresAt: number;
}

/** Who a session is for: an admin key's row, or a human an OIDC provider vouched for. */
export type SessionSubject = { keyId: number } | { human: { sub: string; email: string | null } };

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class Signer {
  private readonly secret: Buffer;

  constructor(secret: string | undefined) {
    if (secret !== undefined && (typeof secret !== 'string' || Buffer.byteLength(secret) < 32))
      throw new TypeError('agentKeyConsole: sessionSecret must be a string of at least 32 bytes');
    // Without a configured secret, sessions last as long as the process (sign in again after a restart).
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  mac(...parts: Array<string | number>): string {
    return b64(createHmac('sha256', this.secret).update(parts.join('\u0000')).digest());
  }

  /** Constant-time: a forged token costs the same to refuse as a good one to accept. */
  same(a: unknown, b: string): boolean {
    if (typeof a !== 'string') return false;
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }

  /** A signed, expiring JSON payload for one purpose (a token for one purpose opens for no other). */
  seal(purpose: string, payload: object, expiresAt: number): string {
    const body = b64(JSON.stringify({ ...payload, e: expiresAt }));
    return `${body}.${this.mac(purpose, body)}`;
  }

  unseal(purpose: string, token: unknown, now: number): Record<string, unknown> | null {
    if (typeof token !== 'string' || token.length > 2048) return null;
    const [body, sig, extra] = token.split('.');
    if (!body || !sig || extra !== undefined || !this.same(sig, this.mac(purpose, body))) return null;
    try {
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      if (
        typeof payload !== 'object' ||
        payload === null ||
        typeof payload.e !== 'number' ||
        payload.e <= now
      )
        return null;
      return payload;
    } catch {
      return null;
    }
  }

  private cipherKey(purpose: string): Buffer {
    return createHmac('sha256', this.secret).update(`cipher\u0000${purpose}`).digest();
  }

  /** As seal, but encrypted (AES-256-GCM): for the one payload a browser may hold but not read. */
  encrypt(purpose: string, payload: object, expiresAt: number): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.cipherKey(purpose), iv);
    const body = Buffer.concat([cipher.update(JSON.stringify({ ...payload, e: expiresAt })), cipher.final()]);
    return [iv, body, cipher.getAuthTag()].map(b64).join('.');
  }

  decrypt(purpose: string, token: unknown, now: number): Record<string, unknown> | null {
    if (typeof token !== 'string' || token.length > 2048) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    try {
      const [iv, body, tag] = parts.map((p) => Buffer.from(p, 'base64url')) as [Buffer, Buffer, Buffer];
      // The full 16-byte tag only: GCM would otherwise accept a truncated one (a prefix of the real tag).
      if (iv.length !== 12 || tag.length !== 16) return null;
      const decipher = createDecipheriv('aes-256-gcm', this.cipherKey(purpose), iv, { authTagLength: 16 });
      decipher.setAuthTag(tag);
      const payload = JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8'));
      return typeof payload?.e === 'number' && payload.e > now ? payload : null;
    } catch {
      return null;
    }
  }

  /** A new session: a fresh nonce every time, so signing in never keeps an earlier session's tokens. */
  issue(who: SessionSubject, ttlMs: number, now: number): string {
    const n = b64(randomBytes(16));
    const payload = 'keyId' in who ? { k: who.keyId, n } : { h: who.human.sub, m: who.human.email, n };
    return this.seal('session', payload, now + ttlMs);
  }

  open(token: unknown, now: number): Session | null {
    const p = this.unseal('session', token, now);
    if (!p || typeof p.n !== 'string') return null;
    const base = { nonce: p.n, expiresAt: p.e as number };
    if (Number.isSafeInteger(p.k)) return { ...base, keyId: p.k as number, human: null };
    if (typeof p.h === 'string' && p.h !== '' && (typeof p.m === 'string' || p.m === null))
      return { ...base, keyId: null, human: { sub: p.h, email: p.m } };
    return null;
  }

  csrf(session: Session): string {
    return this.mac('csrf', session.nonce);
  }

  /** Binds a confirmation to this session, the action, its target and its exact parameters. */
  confirm(session: Session, action: string, target: string, params: Record<string, string>): string {
    const canonical = Object.keys(params)
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
    return this.mac('confirm', session.nonce, action, target, canonical);
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}
