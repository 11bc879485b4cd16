import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK as a JWKS serves it. */
  jwk: JWK;
}

export async function makeKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export interface MintOptions {
  /** Header members; `alg` and `kid` default from the key; `typ` defaults to at+jwt. null drops one. */
  header?: Record<string, unknown>;
  /** Claims merged over the defaults; a value of undefined drops that claim. */
  claims?: Record<string, unknown>;
}

export const nowSec = (date: Date = new Date()) => Math.floor(date.getTime() / 1000);

/** A real signature by a real key, over whatever claims the test wants (including bad ones). */
export async function mint(
  key: TestKey,
  base: { iss: string; aud: string; sub?: string; now?: Date },
  options: MintOptions = {},
): Promise<string> {
  const iat = nowSec(base.now);
  const claims: Record<string, unknown> = {
    iss: base.iss,
    aud: base.aud,
    sub: base.sub ?? 'client-1',
    iat,
    exp: iat + 300,
    scope: 'read write',
    ...options.claims,
  };
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...options.header };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** An unsigned JWT (`alg: none`), built by hand since no library will make one. */
export function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(claims)}.`;
}
