import { randomBytes } from 'node:crypto';
import { AccessConfigError, parseKeyRing } from '@agentkey/access';
import { describe, expect, it } from 'vitest';
import { open, seal } from '../../src/secrets/seal.js';

const k = () => randomBytes(32).toString('base64');
const id = { table: 'sdk_api_keys', toolId: 'github', version: 1 };

describe('sealed secrets (AES-256-GCM, AAD = the row identity)', () => {
  const ring = parseKeyRing(`k1:${k()},k0:${k()}`);

  it('round-trips, with a fresh 96-bit IV per record', () => {
    const a = seal(ring, id, 'ghp_secret');
    const b = seal(ring, id, 'ghp_secret');
    expect(a.iv.length).toBe(12);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.data.toString('utf8')).not.toContain('ghp_secret');
    expect(open(ring, id, a)).toEqual({ ok: true, secret: 'ghp_secret' });
  });

  it('refuses a record moved to another tool, version or deployment', () => {
    const s = seal(ring, id, 'ghp_secret');
    expect(open(ring, { ...id, toolId: 'slack' }, s)).toEqual({ ok: false, code: 'secret_tampered' });
    expect(open(ring, { ...id, version: 2 }, s)).toEqual({ ok: false, code: 'secret_tampered' });
    expect(open(ring, { ...id, table: 'other.keys' }, s)).toEqual({ ok: false, code: 'secret_tampered' });
  });

  it('refuses a flipped ciphertext or tag bit, and a kid swapped or unknown', () => {
    const s = seal(ring, id, 'ghp_secret');
    const flipped = Buffer.from(s.data);
    flipped[0]! ^= 1;
    expect(open(ring, id, { ...s, data: flipped })).toEqual({ ok: false, code: 'secret_tampered' });
    const tag = Buffer.from(s.tag);
    tag[15]! ^= 0x80;
    expect(open(ring, id, { ...s, tag })).toEqual({ ok: false, code: 'secret_tampered' });
    expect(open(ring, id, { ...s, kid: 'k0' })).toEqual({ ok: false, code: 'secret_tampered' });
    expect(open(ring, id, { ...s, kid: 'gone' })).toEqual({ ok: false, code: 'secret_key_unknown' });
  });

  it('opens with any key of the ring; seals with the first', () => {
    const old = parseKeyRing(`k0:${ring.find('k0')!.key.toString('base64')}`);
    const s = seal(old, id, 'x');
    expect(s.kid).toBe('k0');
    expect(open(ring, id, s)).toEqual({ ok: true, secret: 'x' });
    expect(seal(ring, id, 'x').kid).toBe('k1');
  });

  it.each([
    ['', /not set/],
    ['nokid', /entry 1 must be kid:base64key/],
    [`k1:${randomBytes(16).toString('base64')}`, /key k1 must be 32 bytes in base64 \(got 16\)/],
    ['k1:not base64!', /must be 32 bytes/],
    [`k1:${k()},k1:${k()}`, /duplicate kid k1/],
    [`bad kid:${k()}`, /entry 1/],
  ])('refuses the key ring %j with one clear message, never the key', (text, message) => {
    let error: unknown;
    try {
      parseKeyRing(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AccessConfigError);
    expect((error as Error).message).toMatch(message);
    const material = text.split(':')[1]?.split(',')[0];
    if (material && material.length > 8) expect((error as Error).message).not.toContain(material);
  });
});
