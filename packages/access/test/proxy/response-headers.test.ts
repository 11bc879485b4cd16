import { describe, expect, it } from 'vitest';
import { agentHeaders, secretForms } from '../../src/proxy/response-headers.js';
import { SECRET } from './servers.js';

const forms = secretForms(SECRET, `Bearer ${SECRET}`);

describe('agentHeaders', () => {
  it('keeps end-to-end fields; drops hop-by-hop, Connection-named, cookies and Location', () => {
    const out = agentHeaders(
      [
        'Content-Type',
        'application/json',
        'Connection',
        'X-Hop',
        'X-Hop',
        '1',
        'Keep-Alive',
        'timeout=5',
        'Transfer-Encoding',
        'chunked',
        'Proxy-Authenticate',
        'Basic',
        'Set-Cookie',
        'session=upstream',
        'Set-Cookie',
        'other=1',
        'Location',
        '/elsewhere',
        'Vary',
        'Accept',
        'Vary',
        'Origin',
      ],
      forms,
    );
    expect(out).toEqual({ 'content-type': 'application/json', vary: ['Accept', 'Origin'] });
  });

  it.each([
    ['as is', SECRET],
    ['presented', `Bearer ${SECRET}`],
    ['upper-cased', SECRET.toUpperCase()],
    ['URL-encoded', encodeURIComponent(SECRET)],
    ['base64', Buffer.from(SECRET).toString('base64')],
    ['base64url', Buffer.from(SECRET).toString('base64url')],
  ])('drops a header that echoes the secret %s', (_form, value) => {
    const out = agentHeaders(['X-Echo-Authorization', `seen: ${value};`, 'X-Ok', '1'], forms);
    expect(out).toEqual({ 'x-ok': '1' });
  });

  it('drops a header whose name carries the secret', () => {
    expect(
      agentHeaders([`X-${SECRET.replace(/[^A-Za-z0-9]/g, '')}`, '1'], secretForms('Zq9', 'Zq9')),
    ).toEqual({});
  });
});
