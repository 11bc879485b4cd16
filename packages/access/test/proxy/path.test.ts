import { describe, expect, it } from 'vitest';
import { assertToolRoute, checkProxyRequest } from '../../src/proxy/index.js';
import { route } from './servers.js';

const tool = route('http://127.0.0.1:4000/api/', {
  pathPrefixes: ['/repos/', '/users', '/'.concat('search/')],
});
const code = (method: string, path: string) => {
  const checked = checkProxyRequest(tool, method, path);
  return checked.ok ? checked.url.href : checked.code;
};

describe('checkProxyRequest', () => {
  it('builds the upstream URL on the base path, query kept as sent', () => {
    expect(code('GET', '/repos/a/b?x=1&y=%20z')).toBe('http://127.0.0.1:4000/api/repos/a/b?x=1&y=%20z');
    expect(code('GET', '/users/@me')).toBe('http://127.0.0.1:4000/api/users/@me');
    expect(code('GET', '/users')).toBe('http://127.0.0.1:4000/api/users');
  });

  it('decodes escaped unreserved characters, so the prefix check sees what the upstream sees', () => {
    expect(code('GET', '/rep%6Fs/x%7e')).toBe('http://127.0.0.1:4000/api/repos/x~');
    expect(code('GET', '/repos/a%2bb')).toBe('http://127.0.0.1:4000/api/repos/a%2Bb');
  });

  it.each([
    ['/repos/../admin'],
    ['/repos/..'],
    ['/repos/./x'],
    ['/repos/%2e%2e/admin'],
    ['/repos/%2E%2e/admin'],
    ['/repos/.%2e/admin'],
    ['/repos/%252e%252e/admin'],
    ['/repos/%25252e%25252e/admin'],
    ['/repos/a%2Fb'],
    ['/repos/a%2f..%2f..%2fadmin'],
    ['/repos/..%2fadmin'],
    ['/repos/a%252Fb'],
    ['/repos/a%5Cb'],
    ['/repos/a\\..\\admin'],
    ['/repos\\..\\admin'],
    ['/repos/..;/admin'],
    ['/repos/%2e%2e;x=1/admin'],
    ['/repos/.. /admin'],
    ['/repos/..%20/admin'],
    ['/repos/...'],
    ['/repos/%c0%af'],
    ['/repos/%ef%bc%8e%ef%bc%8e/admin'],
    ['/repos/a%00b'],
    ['/repos/a%0d%0aHost:%20evil'],
    ['/repos//x'],
    ['//evil.example/repos/'],
    ['http://evil.example/repos/'],
    ['@evil.example/repos/'],
    ['repos/x'],
    ['/repos/x#frag'],
    ['/repos/x y'],
    ['/repos/\u00e9'],
    ['/repos/%zz'],
    ['/repos/x?q=%'],
    ['/repos/x?q=a b'],
    ['/repos/x?q=\r\nX: y'],
  ])('refuses %j as bad_path', (path) => {
    expect(code('GET', path)).toBe('bad_path');
  });

  it('matches prefixes on whole segments unless they end in /', () => {
    expect(code('GET', '/usersadmin')).toBe('path_not_allowed');
    expect(code('GET', '/users/1')).toBe('http://127.0.0.1:4000/api/users/1');
    expect(code('GET', '/repos')).toBe('path_not_allowed');
    expect(code('GET', '/admin')).toBe('path_not_allowed');
    expect(code('GET', '')).toBe('path_not_allowed');
  });

  it('grants nothing with no prefixes', () => {
    const none = route('http://127.0.0.1:4000/api/', { pathPrefixes: [] });
    const checked = checkProxyRequest(none, 'GET', '/repos/x');
    expect(checked).toMatchObject({ ok: false, code: 'path_not_allowed', status: 403 });
  });

  it('refuses a method not granted (405), compared exactly; TRACE and CONNECT never pass', () => {
    expect(checkProxyRequest(tool, 'DELETE', '/repos/x')).toMatchObject({
      code: 'method_not_allowed',
      status: 405,
    });
    expect(code('get', '/repos/x')).toBe('method_not_allowed');
    expect(code('GET\r\n', '/repos/x')).toBe('method_not_allowed');
    const loose = route('http://127.0.0.1:4000/api/', { methods: ['TRACE', 'CONNECT', 'GET'] });
    expect(checkProxyRequest(loose, 'TRACE', '/repos/x')).toMatchObject({ code: 'method_not_allowed' });
    expect(checkProxyRequest(loose, 'CONNECT', '/repos/x')).toMatchObject({ code: 'method_not_allowed' });
  });

  it('takes a base URL with a default port or upper-case host as the URL parser reads it', () => {
    const loose = route('HTTP://API.Example.com:80/v1/', { pathPrefixes: ['/'] });
    expect(checkProxyRequest(loose, 'GET', '/x')).toMatchObject({
      url: new URL('http://api.example.com/v1/x'),
    });
  });

  it('works on a base URL without a path or trailing slash', () => {
    const bare = route('https://api.example.com', { pathPrefixes: ['/'] });
    const sub = route('https://api.example.com/v1', { pathPrefixes: ['/'] });
    expect(checkProxyRequest(bare, 'GET', '/x')).toMatchObject({ url: new URL('https://api.example.com/x') });
    expect(checkProxyRequest(sub, 'GET', '')).toMatchObject({ url: new URL('https://api.example.com/v1/') });
    expect(checkProxyRequest(sub, 'GET', '?a=1')).toMatchObject({
      url: new URL('https://api.example.com/v1/?a=1'),
    });
  });

  it('throws on a misconfigured route, naming the field', () => {
    const bad = (over: Parameters<typeof route>[1], field: string) =>
      expect(() => assertToolRoute(route('http://127.0.0.1:4000/api/', over))).toThrow(field);
    bad({ baseUrl: 'ftp://x/' }, 'baseUrl');
    bad({ baseUrl: 'http://u:p@x/' }, 'baseUrl');
    bad({ baseUrl: 'http://x/?a=1' }, 'baseUrl');
    bad({ baseUrl: 'http://x/a/../b' }, 'baseUrl');
    bad({ baseUrl: 'http://x/a/%2e%2e/b' }, 'baseUrl');
    bad({ baseUrl: 'http://x/a//b/' }, 'baseUrl');
    bad({ secretHeader: 'x y' }, 'secretHeader');
    bad({ secretTemplate: 'Bearer' }, 'secretTemplate');
    bad({ methods: ['get'] }, 'methods');
    bad({ pathPrefixes: ['repos/'] }, 'pathPrefixes');
    bad({ pathPrefixes: ['/a/%2e%2e/'] }, 'pathPrefixes');
  });
});
