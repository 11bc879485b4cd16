import { Access } from '@agentkey/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  addTool,
  type Harness,
  keyB64,
  startHarness,
  startUpstream,
  type Upstream,
} from '../support/setup.js';

// The sealed secrets as stored: a row's ciphertext copied to another, a flipped bit, a key id the
// ring lacks — each refused with a stable code, never opened into garbage; rotation and re-seal.
describe('sealed secrets in the tools table', () => {
  let h: Harness;
  let upstream: Upstream;
  let caller: Parameters<Access['vend']>[0];
  let key: string;
  const table = () => `${h.db.table}_access_tools`;

  beforeAll(async () => {
    h = await startHarness();
    upstream = await startUpstream();
    const made = await h.ak.create({ accountId: 'acme' });
    key = made.key;
    caller = { kind: 'key', id: made.id, subject: null, accountId: 'acme', scopes: null, expiresAt: null };
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });

  /** A tool with a secret, and a live grant of it to `caller`. */
  async function granted(id: string): Promise<string> {
    const secret = await addTool(h.access, upstream, id);
    const asked = await h.access.request(caller, id, { reason: 'test' });
    if (!asked.ok) throw new Error(asked.message);
    const ok = await h.access.approve(asked.request.id, { actor: ADMIN });
    if (!ok.ok) throw new Error(ok.message);
    return secret;
  }
  const vend = (id: string) => h.access.vend(caller, { key }, id);

  it('a ciphertext moved to another row is refused: secret_tampered', async () => {
    await granted('tool-a');
    const secretB = await granted('tool-b');
    expect(await vend('tool-b')).toMatchObject({ ok: true, vended: { secret: secretB } });
    await h.db.pool.query(
      `UPDATE ${table()} b SET secret_iv = a.secret_iv, secret_data = a.secret_data, secret_tag = a.secret_tag,
         secret_kid = a.secret_kid FROM ${table()} a WHERE a.id = 'tool-a' AND b.id = 'tool-b'`,
    );
    const moved = await vend('tool-b');
    expect(moved).toMatchObject({ ok: false, code: 'secret_tampered' });
    expect(JSON.stringify(moved)).not.toMatch(/ghp_/);
  });

  it('a flipped ciphertext bit is refused: secret_tampered', async () => {
    await granted('tool-c');
    await h.db.pool.query(
      `UPDATE ${table()} SET secret_data = set_byte(secret_data, 0, get_byte(secret_data, 0) # 1) WHERE id = 'tool-c'`,
    );
    expect(await vend('tool-c')).toMatchObject({ ok: false, code: 'secret_tampered' });
  });

  it('a key id the ring lacks is refused: secret_key_unknown; over HTTP a 500 naming the code only', async () => {
    const secret = await granted('tool-d');
    await h.db.pool.query(`UPDATE ${table()} SET secret_kid = 'k9' WHERE id = 'tool-d'`);
    expect(await vend('tool-d')).toMatchObject({ ok: false, code: 'secret_key_unknown' });
    const res = await h.call('GET', '/tools/tool-d/credentials', key);
    expect([res.status, res.body.error]).toEqual([500, 'secret_key_unknown']);
    expect(JSON.stringify(res.body)).not.toContain(secret);
  });

  it('an old version copied back after a rotation is refused', async () => {
    await granted('tool-e');
    const { rows } = await h.db.pool.query(`SELECT * FROM ${table()} WHERE id = 'tool-e'`);
    expect((await h.access.setSecret('tool-e', 'ghp_rotated', ADMIN)).ok).toBe(true);
    expect(await vend('tool-e')).toMatchObject({ ok: true, vended: { secret: 'ghp_rotated' } });
    await h.db.pool.query(
      `UPDATE ${table()} SET secret_iv = $1, secret_data = $2, secret_tag = $3 WHERE id = 'tool-e'`,
      [rows[0].secret_iv, rows[0].secret_data, rows[0].secret_tag],
    );
    expect(await vend('tool-e')).toMatchObject({ ok: false, code: 'secret_tampered' });
  });

  it('rotation of the key ring: a new first key, reseal, then the old key can go', async () => {
    const secret = await granted('tool-f');
    const k2 = `k2:${keyB64()}`;
    const both = new Access({ ak: h.ak, pool: h.db.pool, secretKeys: `${k2},${h.secretKeys}` });
    const report = await both.reseal({ kind: 'human', id: 'cli' });
    expect(report.resealed).toContain('tool-f');
    expect(report.failed.map((f) => f.code)).toEqual(
      expect.arrayContaining(['secret_tampered', 'secret_key_unknown']),
    );
    const onlyNew = new Access({ ak: h.ak, pool: h.db.pool, secretKeys: k2 });
    expect(await onlyNew.vend(caller, { key }, 'tool-f')).toMatchObject({ ok: true, vended: { secret } });
    const audit = await h.access.audit({ toolId: 'tool-f' });
    expect(audit.map((r) => r.action)).toEqual(expect.arrayContaining(['secret.set', 'secret.resealed']));
    expect(JSON.stringify(audit)).not.toContain(secret);
  });
});
