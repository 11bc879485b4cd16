import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export const M2M_CATEGORY = 'cl_B7d4PD333AAA';
export const SESSION_CATEGORY = 'cl_B7d4PD111AAA';

/** An RSA 2048 key pair as Clerk uses: the PEM for `jwtKey`, the JWK for a stand-in `/v1/jwks`. */
export async function clerkKeys(kid = 'ins_test_key') {
  const { publicKey, privateKey } = await generateKeyPair('RS256', {
    modulusLength: 2048,
    extractable: true,
  });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, pem: await exportSPKI(publicKey), jwk };
}

type Keys = Awaited<ReturnType<typeof clerkKeys>>;

/** A Clerk-shaped M2M JWT; `header`/`claims` override the defaults. */
export function signM2M(
  keys: Keys,
  claims: JWTPayload & Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: 'mch_caller',
    jti: 'mt_jwt_id_1',
    scopes: 'mch_api mch_reports',
    iat: now - 10,
    exp: now + 3600,
    team: 'billing',
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: keys.kid, typ: 'JWT', cat: M2M_CATEGORY, ...header })
    .sign(keys.privateKey);
}
