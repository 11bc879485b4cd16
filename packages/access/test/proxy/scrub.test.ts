import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretForms } from '../../src/proxy/response-headers.js';
import { scrubber } from '../../src/proxy/scrub.js';
import { SECRET } from './servers.js';

const forms = secretForms(SECRET, `Bearer ${SECRET}`);
const run = (chunks: Buffer[]) => {
  const scrub = scrubber(forms);
  return Buffer.concat([...chunks.map((chunk) => scrub.push(chunk)), scrub.flush()]).toString('latin1');
};

describe('scrubber', () => {
  it('masks every form of the secret, wherever the chunks split it, keeping the length', () => {
    const body = Buffer.from(
      `{"headers":{"authorization":"Bearer ${SECRET}","x":"${SECRET.toUpperCase()}","b":"${Buffer.from(SECRET).toString('base64')}"}}`,
    );
    fc.assert(
      fc.property(fc.array(fc.nat(body.length), { maxLength: 8 }), (cuts) => {
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), body.length];
        const out = run(points.slice(1).map((end, i) => body.subarray(points[i]!, end)));
        expect(out).toHaveLength(body.length);
        expect(forms.filter((form) => out.toLowerCase().includes(form))).toEqual([]);
        expect(out).toContain('{"headers":{"authorization":"');
      }),
    );
  });

  it('holds back only a tail that could begin the secret, so ordinary chunks flow at once', () => {
    const scrub = scrubber(forms);
    expect(scrub.push(Buffer.from('data: {"n":1}\n\n')).toString()).toBe('data: {"n":1}\n\n');
    expect(scrub.push(Buffer.from('token sk_li')).toString()).toBe('token ');
    expect(scrub.push(Buffer.from('ve')).toString()).toBe('');
    expect(scrub.push(Buffer.from('!')).toString()).toBe('sk_live!');
    expect(scrub.push(Buffer.from('sk_li')).toString()).toBe('');
    expect(scrub.push(Buffer.from('ne')).toString()).toBe('sk_line');
  });

  it('passes a body without the secret byte for byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const body = Buffer.from(bytes);
        fc.pre(!forms.some((form) => body.toString('latin1').toLowerCase().includes(form)));
        expect(Buffer.from(run([body.subarray(0, 50), body.subarray(50)]), 'latin1').equals(body)).toBe(true);
      }),
    );
  });

  it('masks the encoded forms too (hex, every byte percent-encoded, HTML entities), split anywhere', () => {
    const hex = Buffer.from(SECRET).toString('hex').toUpperCase();
    const pct = [...Buffer.from(SECRET)].map((b) => `%${b.toString(16)}`).join('');
    const html = SECRET.replace(/[^A-Za-z0-9]/g, (c) => `&#${c.charCodeAt(0)};`);
    const body = Buffer.from(`a ${hex} b ${pct} c ${html} d ${hex.slice(0, -1)}`);
    fc.assert(
      fc.property(fc.array(fc.nat(body.length), { maxLength: 12 }), (cuts) => {
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), body.length];
        const out = run(points.slice(1).map((end, i) => body.subarray(points[i]!, end)));
        expect(out).toBe(
          `a ${'*'.repeat(hex.length)} b ${'*'.repeat(pct.length)} c ${'*'.repeat(html.length)} d ${hex.slice(0, -1)}`,
        );
      }),
    );
  });
});
