import type { Actor } from '../caller.js';
import type { AccessContext } from '../context.js';
import { type AccessResult, refuse } from '../errors.js';
import { checkToolId, toMicros } from '../input.js';
import { open, type Sealed, seal } from '../secrets/seal.js';
import { auditInsert, auditParams } from './audit.js';
import { type CheckedTool, checkTool } from './tool-definition.js';

/** A tool as listed: everything but its secret (whether one is set, and which version, only). */
export interface ToolInfo extends CheckedTool {
  hasSecret: boolean;
  secretVersion: number;
}

/** A tool as the request path reads it, its secret still sealed. */
export interface ToolRow extends ToolInfo {
  sealed: Sealed | null;
}

const MICROS = 10_000;

function toolRow(r: Record<string, unknown>): ToolRow {
  const sealed =
    r.secret_kid === null
      ? null
      : {
          kid: r.secret_kid as string,
          // pg gives Buffers, PGlite Uint8Arrays.
          iv: Buffer.from(r.secret_iv as Uint8Array),
          data: Buffer.from(r.secret_data as Uint8Array),
          tag: Buffer.from(r.secret_tag as Uint8Array),
        };
  return {
    id: r.id as string,
    name: r.name as string,
    baseUrl: r.base_url as string,
    secretHeader: r.secret_header as string,
    secretTemplate: r.secret_template as string,
    methods: r.methods as string[],
    pathPrefixes: r.path_prefixes as string[],
    actions: (typeof r.actions === 'string' ? JSON.parse(r.actions) : r.actions) as CheckedTool['actions'],
    costCents: r.cost_micros === null ? null : Number(r.cost_micros) / MICROS,
    hasSecret: sealed !== null,
    secretVersion: Number(r.secret_version),
    sealed,
  };
}

/** Leaves the sealed secret out: what list answers carry. */
export function toolInfo({ sealed: _, ...info }: ToolRow): ToolInfo {
  return info;
}

/** Adds or changes a tool's definition (not its secret); audited. */
export async function defineTool(
  ctx: AccessContext,
  def: unknown,
  actor: Actor,
): Promise<AccessResult<{ tool: ToolInfo }>> {
  const checked = checkTool(def);
  if (!checked.ok) return checked;
  const t = checked.tool;
  const { rows } = await ctx.pool.query(
    `WITH saved AS (
       INSERT INTO ${ctx.names.tools} (id, name, base_url, secret_header, secret_template, methods, path_prefixes, actions, cost_micros)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, base_url = EXCLUDED.base_url,
         secret_header = EXCLUDED.secret_header, secret_template = EXCLUDED.secret_template,
         methods = EXCLUDED.methods, path_prefixes = EXCLUDED.path_prefixes, actions = EXCLUDED.actions,
         cost_micros = EXCLUDED.cost_micros, updated_at = now()
       RETURNING *),
     logged AS (${auditInsert(ctx, 10, 'saved')})
     SELECT * FROM saved`,
    [
      t.id,
      t.name,
      t.baseUrl,
      t.secretHeader,
      t.secretTemplate,
      t.methods,
      t.pathPrefixes,
      JSON.stringify(t.actions),
      t.costCents === null ? null : toMicros(t.costCents),
      ...auditParams(ctx, { actor, action: 'tool.defined', toolId: t.id, target: `tool:${t.id}` }),
    ],
  );
  return { ok: true, tool: toolInfo(toolRow(rows[0])) };
}

export async function readTool(ctx: AccessContext, id: string): Promise<ToolRow | null> {
  if (!checkToolId(id).ok) return null;
  const { rows } = await ctx.pool.query(`SELECT * FROM ${ctx.names.tools} WHERE id = $1`, [id]);
  return rows[0] ? toolRow(rows[0]) : null;
}

export async function listToolRows(ctx: AccessContext): Promise<ToolRow[]> {
  const { rows } = await ctx.pool.query(`SELECT * FROM ${ctx.names.tools} ORDER BY id`);
  return rows.map((r: Record<string, unknown>) => toolRow(r));
}

export async function listTools(ctx: AccessContext): Promise<ToolInfo[]> {
  return (await listToolRows(ctx)).map(toolInfo);
}

/**
 * Seals a new secret for the tool under the ring's first key, as the next version (a rotation when
 * one was set): the version is part of the sealed record's identity, so an old ciphertext copied
 * back fails to open. Audited without the secret.
 */
export async function setSecret(
  ctx: AccessContext,
  toolId: string,
  secret: string,
  actor: Actor,
): Promise<AccessResult<{ version: number }>> {
  if (typeof secret !== 'string' || secret === '' || secret.length > 8192 || /[\r\n\0]/.test(secret)) {
    return refuse('bad_request', 'secret must be 1-8192 characters without CR, LF or NUL');
  }
  const tool = await readTool(ctx, toolId);
  if (!tool) return refuse('unknown_tool', `no tool ${JSON.stringify(toolId)}`);
  const version = tool.secretVersion + 1;
  const s = seal(ctx.ring, { table: ctx.tables.id, toolId, version }, secret);
  const action = tool.hasSecret ? 'secret.rotated' : 'secret.set';
  const { rows } = await ctx.pool.query(
    `WITH saved AS (
       UPDATE ${ctx.names.tools} SET secret_version = $2, secret_kid = $3, secret_iv = $4, secret_data = $5,
         secret_tag = $6, updated_at = now()
       WHERE id = $1 AND secret_version = $7 RETURNING id),
     logged AS (${auditInsert(ctx, 8, 'saved')})
     SELECT id FROM saved`,
    [
      toolId,
      version,
      s.kid,
      s.iv,
      s.data,
      s.tag,
      tool.secretVersion,
      ...auditParams(ctx, {
        actor,
        action,
        toolId,
        target: `tool:${toolId}`,
        detail: { version, kid: s.kid },
      }),
    ],
  );
  // Someone else changed the secret meanwhile: theirs stands (and so does their audit row, not ours).
  if (rows.length === 0) return refuse('not_pending', 'the secret changed meanwhile; try again');
  return { ok: true, version };
}

/** Opens a tool's secret for one call; a refusal names why, never what. */
export function openSecret(ctx: AccessContext, tool: ToolRow): AccessResult<{ secret: string }> {
  if (!tool.sealed) return refuse('no_secret', `tool ${tool.id} has no secret set`);
  const opened = open(
    ctx.ring,
    { table: ctx.tables.id, toolId: tool.id, version: tool.secretVersion },
    tool.sealed,
  );
  if (!opened.ok) {
    return refuse(
      opened.code,
      opened.code === 'secret_key_unknown'
        ? `tool ${tool.id}: its secret is sealed with a key id not in AGENTKEY_SECRET_KEYS`
        : `tool ${tool.id}: its sealed secret failed authentication (tampered or moved); refusing`,
    );
  }
  return { ok: true, secret: opened.secret };
}
