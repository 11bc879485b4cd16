import type { Actor } from '../caller.js';
import type { AccessContext } from '../context.js';
import { seal } from '../secrets/seal.js';
import { auditInsert, auditParams } from './audit.js';
import { listToolRows, openSecret } from './tools.js';

export interface ResealReport {
  /** Tools now sealed under the ring's first key that were not before. */
  resealed: string[];
  /** Tools already under the first key. */
  current: string[];
  /** Tools whose secret could not be opened (key id not in the ring, or tampered): left as they are. */
  failed: Array<{ toolId: string; code: string }>;
}

/**
 * After a key rotation (a new key put first in AGENTKEY_SECRET_KEYS): opens every secret sealed
 * under another key and seals it again under the first, keeping its version (the secret did not
 * change). Each row changes only if nobody changed it meanwhile. The old key can leave the ring
 * once `failed` is empty and nothing is left under it. Audited per tool, without the secret.
 */
export async function resealAll(ctx: AccessContext, actor: Actor): Promise<ResealReport> {
  const report: ResealReport = { resealed: [], current: [], failed: [] };
  const primary = ctx.ring.primary.kid;
  for (const tool of await listToolRows(ctx)) {
    if (!tool.sealed) continue;
    if (tool.sealed.kid === primary) {
      report.current.push(tool.id);
      continue;
    }
    const opened = openSecret(ctx, tool);
    if (!opened.ok) {
      report.failed.push({ toolId: tool.id, code: opened.code });
      continue;
    }
    const s = seal(
      ctx.ring,
      { table: ctx.tables.id, toolId: tool.id, version: tool.secretVersion },
      opened.secret,
    );
    const { rows } = await ctx.pool.query(
      `WITH saved AS (
         UPDATE ${ctx.names.tools} SET secret_kid = $2, secret_iv = $3, secret_data = $4, secret_tag = $5, updated_at = now()
         WHERE id = $1 AND secret_version = $6 AND secret_kid = $7 RETURNING id),
       logged AS (${auditInsert(ctx, 8, 'saved')})
       SELECT id FROM saved`,
      [
        tool.id,
        s.kid,
        s.iv,
        s.data,
        s.tag,
        tool.secretVersion,
        tool.sealed.kid,
        ...auditParams(ctx, {
          actor,
          action: 'secret.resealed',
          toolId: tool.id,
          target: `tool:${tool.id}`,
          detail: { version: tool.secretVersion, from: tool.sealed.kid, to: s.kid },
        }),
      ],
    );
    if (rows.length > 0) report.resealed.push(tool.id);
  }
  return report;
}
