import { describe, expect, it } from 'vitest';
import { grantedAgent, harnessPerFile } from '../support/setup.js';

// A secret with a quote, a backslash or a slash, echoed by an upstream in a JSON body, is not its
// raw form: JSON.stringify writes \" and \\, PHP's json_encode also \/. Parsing the answer gives
// the secret back whole.
describe('a secret echoed back JSON-escaped', () => {
  const f = harnessPerFile({
    upstream: (req, res) => {
      if (!req.url?.includes('/echo')) return false;
      let body = JSON.stringify({ headers: req.headers });
      if (req.url.includes('/php')) body = body.replace(/\//g, '\\/');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return true;
    },
  });
  const SECRET = 'p"ss\\wd/k3y+Zx9Qr7Lm2Vb8';

  it('is masked in the body, as JSON.stringify and json_encode write it', async () => {
    const set = await f.h.access.setSecret('github', SECRET, { kind: 'human', id: 'alice' });
    expect(set.ok).toBe(true);
    const a = await grantedAgent(f.h);
    for (const path of ['/proxy/github/repos/echo', '/proxy/github/repos/echo/php']) {
      const answer = await f.h.call('GET', path, a.key);
      expect(answer.status).toBe(200);
      expect(f.upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);
      const echoed = String(answer.body.headers.authorization);
      expect(echoed).not.toContain(SECRET);
      expect(echoed).not.toContain('k3y+Zx9Qr7Lm2Vb8');
    }
  });
});
