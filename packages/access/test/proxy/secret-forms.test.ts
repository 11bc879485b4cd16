import { describe, expect, it } from 'vitest';
import { secretForms } from '../../src/proxy/secret-forms.js';
import { ADMIN, grantedAgent, harnessPerFile } from '../support/setup.js';

// An upstream that reflects what it received may encode it first: a URL in an error page, a
// base64 debug dump of the request, a hex trace, an HTML page. The agent must get none of them.
// Each encoder below is the platform's own (or what common libraries emit), not the scrubber's.
const SECRET = `p/ss+w&rd<"k3y'>!*~(Zx9Qr7Lm2Vb8)`;
const PRESENTED = `Bearer ${SECRET}`;

const allBytes = (t: string) => [...Buffer.from(t)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
const ENCODERS: Record<string, (t: string) => string> = {
  percent: encodeURIComponent,
  'percent-strict': (t) =>
    encodeURIComponent(t).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`),
  form: (t) => new URLSearchParams({ v: t }).toString().slice(2),
  'percent-every-byte': allBytes,
  base64: (t) => Buffer.from(t).toString('base64'),
  base64url: (t) => Buffer.from(t).toString('base64url'),
  // The secret inside a longer base64 text, at each alignment (an echoed `user:secret`, a dump).
  'base64-offset-1': (t) => Buffer.from(`a${t}`).toString('base64'),
  'base64-offset-2': (t) => Buffer.from(`ab:${t}..`).toString('base64'),
  'base64-offset-3': (t) => Buffer.from(`{"h":"${t}"}`).toString('base64'),
  'base64url-offset-1': (t) => Buffer.from(`xyzw${t}!`).toString('base64url'),
  hex: (t) => Buffer.from(t).toString('hex'),
  HEX: (t) => Buffer.from(t).toString('hex').toUpperCase(),
  'html-lodash': (t) =>
    t.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
    ),
  'html-python': (t) =>
    t.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' })[c]!,
    ),
  'html-php': (t) =>
    t.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#039;' })[c]!,
    ),
  'html-numeric-hex': (t) =>
    t.replace(/[^A-Za-z0-9]/g, (c) => `&#X${c.charCodeAt(0).toString(16).toUpperCase()};`),
  'html-numeric': (t) => t.replace(/[^A-Za-z0-9]/g, (c) => `&#${c.charCodeAt(0)};`),
  'json-go': (t) =>
    JSON.stringify(t)
      .slice(1, -1)
      .replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`),
};

describe('a secret reflected in an encoding', () => {
  const f = harnessPerFile({
    upstream: (req, res) => {
      const m = /\/reflect\/([\w-]+)\/(secret|header)$/.exec(req.url ?? '');
      if (!m) return false;
      const value = String(req.headers.authorization);
      const encoded = ENCODERS[m[1]!]!(m[2] === 'secret' ? value.replace(/^Bearer /, '') : value);
      // In a header, and in a body written a few bytes at a time so occurrences straddle chunks.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-echo': encoded, 'x-plain': 'kept' });
      const body = Buffer.from(`echo: ${encoded} :end\n`);
      let at = 0;
      const next = () => {
        if (at >= body.length) return res.end();
        res.write(body.subarray(at, at + 5));
        at += 5;
        setTimeout(next, 1);
      };
      next();
      return true;
    },
  });

  it.each(Object.keys(ENCODERS))('%s: masked in the body across chunks, the header dropped', async (name) => {
    expect((await f.h.access.setSecret('github', SECRET, ADMIN)).ok).toBe(true);
    const a = await grantedAgent(f.h);
    for (const what of ['secret', 'header'] as const) {
      const reflected = what === 'secret' ? SECRET : PRESENTED;
      const encoded = ENCODERS[name]!(reflected);
      const r = await f.h.call('GET', `/proxy/github/repos/reflect/${name}/${what}`, a.key);
      expect(r.status).toBe(200);
      expect(f.upstream.seen.at(-1)!.headers.authorization).toBe(PRESENTED);
      const body = String(r.body);
      expect(body.startsWith('echo: ') && body.endsWith(' :end\n')).toBe(true);
      // The length holds. All of the encoding is masked (base64 padding aside); inside a longer
      // base64 text, all but the at most 4 characters that mix the secret's bits with its neighbours'.
      expect(body.length).toBe(`echo: ${encoded} :end\n`.length);
      const stars = body.split('').filter((c) => c === '*').length;
      const whole = encoded.replace(/=+$/, '').length;
      const least = name.includes('offset') ? Math.floor((Buffer.byteLength(reflected) * 4) / 3) - 4 : whole;
      expect(stars, body).toBeGreaterThanOrEqual(least);
      expect(r.headers.get('x-echo')).toBeNull();
      expect(r.headers.get('x-plain')).toBe('kept');
    }
  });

  it('keeps a short secret’s whole encodings, not its aligned base64 pieces: they would mask innocent text', () => {
    const forms = secretForms('Zq9', 'Zq9');
    expect(forms).toContain('wne5'); // base64('Zq9')
    expect(forms).toContain('5a7139'); // hex
    expect(forms.filter((form) => form.length < 4)).toEqual(['zq9']);
  });
});
