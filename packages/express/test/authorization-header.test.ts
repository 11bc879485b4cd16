import { describe, expect, it } from 'vitest';
import { parseAuthorization } from '../src/authorization-header.js';

describe('parseAuthorization', () => {
  it('reads one token68 after the Bearer scheme, in any case of the scheme', () => {
    expect(parseAuthorization('Bearer ak_123')).toEqual({ ok: true, token: 'ak_123' });
    expect(parseAuthorization('bearer ak_123')).toEqual({ ok: true, token: 'ak_123' });
    expect(parseAuthorization('BEARER eyJ.eyJ.sig-_~+/==')).toEqual({
      ok: true,
      token: 'eyJ.eyJ.sig-_~+/==',
    });
    expect(parseAuthorization(['Bearer mt_1'])).toEqual({ ok: true, token: 'mt_1' });
  });

  it('calls no header, or an empty one, a missing credential', () => {
    for (const header of [undefined, '', []]) {
      expect(parseAuthorization(header)).toMatchObject({ ok: false, error: { code: 'missing_credential' } });
    }
  });

  it('calls anything but "Bearer <token68>" an invalid request', () => {
    for (const header of [
      'Basic dXNlcjpwYXNz',
      'Token ak_1',
      'Bearerak_1',
      'Bearer',
      'Bearer ',
      'Bearer  ak_1',
      'Bearer\tak_1',
      'Bearer ak_1 ak_2',
      'Bearer ak_1 ',
      'Bearer ak_1,x',
      'Bearer ab=cd',
      'Bearer =',
      'Bearer ak_1\u00e9',
      ' Bearer ak_1',
    ]) {
      expect(parseAuthorization(header), header).toMatchObject({
        ok: false,
        error: { code: 'invalid_request' },
      });
    }
    expect(parseAuthorization(['Bearer a', 'Bearer b'])).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', description: 'Send one Authorization header, not several.' },
    });
  });

  it('never puts the header into the description', () => {
    const result = parseAuthorization('Bearer secret_token_value extra');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.description).not.toContain('secret_token_value');
  });
});
