import { describe, expect, it } from 'vitest';
import { Signer } from '../src/session.js';

const signer = new Signer('a-session-secret-of-at-least-32-bytes!');
const NOW = 1_700_000_000_000;

describe('Signer.encrypt / decrypt (the round trip and new-key cookies)', () => {
  const token = signer.encrypt('new-key', { k: 'ak_secret' }, NOW + 1000);

  it('opens its own token, for its purpose, before it expires; the text is not readable in it', () => {
    expect(signer.decrypt('new-key', token, NOW)).toMatchObject({ k: 'ak_secret' });
    expect(Buffer.from(token.replaceAll('.', ''), 'base64url').toString('latin1')).not.toContain('ak_secret');
    expect(signer.decrypt('oidc-flow', token, NOW)).toBeNull();
    expect(signer.decrypt('new-key', token, NOW + 1000)).toBeNull();
    expect(new Signer('another-secret-of-at-least-32-bytes!!!').decrypt('new-key', token, NOW)).toBeNull();
  });

  it('refuses a token whose tag was cut short (GCM accepts a prefix of the real tag unless told not to)', () => {
    const [iv, body, tag] = token.split('.') as [string, string, string];
    const short = Buffer.from(tag, 'base64url').subarray(0, 12).toString('base64url');
    expect(signer.decrypt('new-key', `${iv}.${body}.${short}`, NOW)).toBeNull();
  });

  it('refuses a changed body, and anything that is not a token', () => {
    const [iv, body, tag] = token.split('.') as [string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(signer.decrypt('new-key', `${iv}.${flipped.toString('base64url')}.${tag}`, NOW)).toBeNull();
    for (const junk of [undefined, '', 'a.b', 'a.b.c', 'x'.repeat(5000), 42])
      expect(signer.decrypt('new-key', junk, NOW)).toBeNull();
  });
});

describe('Signer sessions', () => {
  it('a key session and an OIDC session open as what they were issued for, each with a fresh nonce', () => {
    const a = signer.open(signer.issue({ keyId: 7 }, 60_000, NOW), NOW);
    const b = signer.open(signer.issue({ keyId: 7 }, 60_000, NOW), NOW);
    expect(a).toMatchObject({ keyId: 7, human: null });
    expect(a!.nonce).not.toBe(b!.nonce);
    const h = signer.open(signer.issue({ human: { sub: 's-1', email: null } }, 60_000, NOW), NOW);
    expect(h).toMatchObject({ keyId: null, human: { sub: 's-1', email: null } });
  });

  it('a sealed payload of another purpose does not open as a session', () => {
    const other = signer.seal('oidc-flow', { k: 1, n: 'x' }, NOW + 60_000);
    expect(signer.open(other, NOW)).toBeNull();
  });
});
