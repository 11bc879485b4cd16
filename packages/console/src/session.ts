import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Sessions are signed, expiring tokens (HMAC-SHA256 under a server secret): nothing about a session
 * is stored, so there is nothing to hash at rest, and every request re-reads the admin key's row,
 * so revoking that key (or removing its admin scope) ends its sessions at once. The CSRF token and
 * the confirm tokens are HMACs of the session's nonce: a page can only post what this session was
 * shown.
 */
export interface Session {
  keyId: number;
  nonce: string;
  expiresAt: number;
}

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

  issue(keyId: number, ttlMs: number, now: number): string {
    const body = b64(JSON.stringify({ k: keyId, n: b64(randomBytes(16)), e: now + ttlMs }));
    return `${body}.${this.mac('session', body)}`;
  }

  open(token: unknown, now: number): Session | null {
    if (typeof token !== 'string' || token.length > 512) return null;
    const [body, sig, extra] = token.split('.');
    if (!body || !sig || extra !== undefined || !this.same(sig, this.mac('session', body))) return null;
    try {
      const { k, n, e } = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      if (!Number.isSafeInteger(k) || typeof n !== 'string' || typeof e !== 'number' || e <= now) return null;
      return { keyId: k, nonce: n, expiresAt: e };
    } catch {
      return null;
    }
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
