import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkProxyRequest } from '../../src/proxy/index.js';
import { route } from './servers.js';

const tool = route('http://127.0.0.1:4000/api/v1/', { pathPrefixes: ['/repos/', '/users', '/'] });
const narrow = route('http://127.0.0.1:4000/api/v1/', { pathPrefixes: ['/repos/'] });

/** Pieces an attacker would combine: dots, slashes and their encodings, hosts, userinfo, controls. */
const piece = fc.constantFrom(
  '/',
  '//',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%25',
  '%252e',
  '%252f',
  '%00',
  '%0d%0a',
  ';',
  '?',
  '#',
  '@',
  ':',
  'evil.example',
  'http:',
  'https://',
  'user:pw@',
  'repos',
  'users',
  'api',
  'v1',
  'a',
  '%41',
  '%c0%af',
  '%ef%bc%8e',
  ' ',
  '\t',
  '~',
  '%7e',
  '&',
  '=',
  'é',
);
const attack = fc.oneof(
  fc.array(piece, { maxLength: 12 }).map((parts) => parts.join('')),
  fc.array(piece, { maxLength: 12 }).map((parts) => `/${parts.join('')}`),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }).map((text) => `/repos/${text}`),
);

/** What the upstream would make of the path after one more decode, in the worst reading. */
function worstReadings(pathname: string): string[] {
  const once = pathname.replace(/%[0-9A-F]{2}/gi, (encoded) =>
    String.fromCharCode(Number.parseInt(encoded.slice(1), 16)),
  );
  return [pathname, once, once.replaceAll('\\', '/'), once.normalize('NFKC')];
}

describe('checkProxyRequest, as a property', () => {
  it('never yields a URL off the origin, with userinfo, or outside the base path, in any reading', () => {
    fc.assert(
      fc.property(attack, (rawPath) => {
        const checked = checkProxyRequest(tool, 'GET', rawPath);
        if (!checked.ok) return;
        const { url } = checked;
        expect(url.origin).toBe('http://127.0.0.1:4000');
        expect([url.username, url.password, url.hash]).toEqual(['', '', '']);
        for (const reading of worstReadings(url.pathname)) {
          expect(reading.startsWith('/api/v1/')).toBe(true);
          expect(reading.split('/').some((segment) => /^[.\s]*\.[.\s]*$/.test(segment.split(';')[0]!))).toBe(
            false,
          );
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('never yields a path outside the granted prefixes', () => {
    fc.assert(
      fc.property(attack, (rawPath) => {
        const checked = checkProxyRequest(narrow, 'GET', rawPath);
        if (checked.ok) expect(checked.url.pathname.startsWith('/api/v1/repos/')).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('is stable: the URL it yields, asked again, yields itself', () => {
    fc.assert(
      fc.property(attack, (rawPath) => {
        const checked = checkProxyRequest(tool, 'GET', rawPath);
        if (!checked.ok) return;
        const again = checkProxyRequest(
          tool,
          'GET',
          checked.url.pathname.slice('/api/v1'.length) + checked.url.search,
        );
        expect(again).toEqual(checked);
      }),
      { numRuns: 2_000 },
    );
  });

  it('accepts plain paths under a prefix (the property is not met by refusing everything)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,8}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const checked = checkProxyRequest(narrow, 'GET', `/repos/${segments.join('/')}`);
        expect(checked.ok && checked.url.pathname).toBe(`/api/v1/repos/${segments.join('/')}`);
      }),
    );
  });
});
