import { type AccessResult, refuse } from '../errors.js';
import {
  type Checked,
  checkActionName,
  checkCents,
  checkMethods,
  checkPrefixes,
  checkText,
  checkToolId,
  checkUrl,
} from '../input.js';
import { assertToolRoute } from '../proxy/index.js';
import { prefixAllows } from '../proxy/route.js';

/** What an admin says of a tool; its secret is set apart (`setSecret`), never listed back. */
export interface ToolDefinition {
  id: string;
  name: string;
  /** The tool's origin and base path, e.g. `https://api.github.com/`. */
  baseUrl: string;
  /** How the secret is presented upstream: `Header-Name: template with {secret}`. Default `Authorization: Bearer {secret}`. */
  presentation?: string;
  /** Methods any grant may use (upper case). */
  methods: string[];
  /** Paths under the base URL any grant may reach, e.g. `['/repos/']`; `['/']` for all. */
  pathPrefixes: string[];
  /** Named actions for permit slips (`github:repos.read`): each a narrower set of methods and paths. */
  actions?: Record<string, { methods: string[]; pathPrefixes: string[] }>;
  /** Cents charged to the agent per vend or proxied call; none when unset. */
  costCents?: number | null;
}

export interface CheckedTool {
  id: string;
  name: string;
  baseUrl: string;
  secretHeader: string;
  secretTemplate: string;
  methods: string[];
  pathPrefixes: string[];
  actions: Record<string, { methods: string[]; pathPrefixes: string[] }>;
  costCents: number | null;
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const OURS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'cookie']);

function presentation(text: unknown): Checked<{ header: string; template: string }> {
  const value = text ?? 'Authorization: Bearer {secret}';
  const bad = { ok: false as const, message: 'presentation must be "Header-Name: template with {secret}"' };
  if (typeof value !== 'string' || /[\r\n\0]/.test(value)) return bad;
  const at = value.indexOf(':');
  const header = value.slice(0, at).trim();
  const template = value.slice(at + 1).trim();
  if (at < 0 || !HEADER_NAME.test(header) || OURS.has(header.toLowerCase())) return bad;
  if (template.split('{secret}').length !== 2) return bad;
  return { ok: true, value: { header: header.toLowerCase(), template } };
}

/** Checks a definition field by field; the first bad field is the one message. */
export function checkTool(def: unknown): AccessResult<{ tool: CheckedTool }> {
  const d = (def ?? {}) as Record<string, unknown>;
  const id = checkToolId(d.id);
  if (!id.ok) return refuse('bad_request', id.message);
  const name = checkText(d.name, 'name', 100);
  if (!name.ok) return refuse('bad_request', name.message);
  const base = checkUrl(d.baseUrl, 'baseUrl');
  if (!base.ok) return refuse('bad_request', base.message);
  if (new URL(base.value).search) return refuse('bad_request', 'baseUrl must have no query');
  const shown = presentation(d.presentation);
  if (!shown.ok) return refuse('bad_request', shown.message);
  const methods = checkMethods(d.methods);
  if (!methods.ok) return refuse('bad_request', methods.message);
  const prefixes = checkPrefixes(d.pathPrefixes);
  if (!prefixes.ok) return refuse('bad_request', prefixes.message);
  const cost = checkCents(d.costCents, 'costCents');
  if (!cost.ok) return refuse('bad_request', cost.message);
  const actions: CheckedTool['actions'] = {};
  const given = d.actions ?? {};
  if (typeof given !== 'object' || Array.isArray(given))
    return refuse('bad_request', 'actions must be an object');
  for (const [action, spec] of Object.entries(given as Record<string, Record<string, unknown>>)) {
    if (!checkActionName(action))
      return refuse('bad_request', `actions: ${JSON.stringify(action.slice(0, 64))} is not an action name`);
    const m = checkMethods(spec?.methods, `actions.${action}.methods`);
    if (!m.ok) return refuse('bad_request', m.message);
    const p = checkPrefixes(spec?.pathPrefixes, `actions.${action}.pathPrefixes`);
    if (!p.ok) return refuse('bad_request', p.message);
    if (
      !m.value.every((x) => methods.value.includes(x)) ||
      !p.value.every((x) => prefixes.value.some((prefix) => prefixAllows(prefix, x)))
    ) {
      return refuse('bad_request', `actions.${action} may only narrow the tool's methods and paths`);
    }
    actions[action] = { methods: m.value, pathPrefixes: p.value };
  }
  const tool: CheckedTool = {
    id: id.value,
    name: name.value,
    baseUrl: base.value,
    secretHeader: shown.value.header,
    secretTemplate: shown.value.template,
    methods: methods.value,
    pathPrefixes: prefixes.value,
    actions,
    costCents: cost.value,
  };
  try {
    // The proxy's own check of a route, at save time: a tool it would refuse is never stored.
    assertToolRoute({ toolId: tool.id, ...tool });
  } catch (error) {
    return refuse('bad_request', (error as Error).message);
  }
  return { ok: true, tool };
}
