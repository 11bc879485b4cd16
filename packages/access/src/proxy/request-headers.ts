import { BAD_VALUE, connectionNamed, type HeaderPairs, HOP_BY_HOP, pairs, toObject } from './hop.js';
import { TOKEN } from './route.js';
import { type ProxyRefusal, refuse, type ToolRoute } from './types.js';

/**
 * Never forwarded, whatever the caller's strip list says: the agent's own credentials and cookies
 * (ours, not the tool's), Expect (our server already answered it), and Accept-Encoding: we ask
 * for identity, so the answer's body can be read for the secret (scrub.ts).
 */
const ALWAYS_STRIP = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'expect',
  'accept-encoding',
  // What the agent says about where the call comes from is its word, not ours: an upstream that
  // trusts these for an IP allow-list must not be talked into it by the agent.
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
];

export interface UpstreamRequest {
  ok: true;
  headers: Record<string, string | string[]>;
  /** The declared body length, or 'chunked', or 0 when the agent sent no body. */
  body: number | 'chunked';
}

/**
 * The agent's headers → the upstream's: framing checked (one Content-Length, or chunked, never
 * both), hop-by-hop fields and those its Connection names dropped, our own credentials dropped,
 * Host set to the upstream, and the secret header set from the tool's template.
 */
export function upstreamHeaders(
  route: ToolRoute,
  secret: string,
  url: URL,
  rawHeaders: readonly string[],
  strip: readonly string[],
): UpstreamRequest | ProxyRefusal {
  const incoming = pairs(rawHeaders);
  for (const [name, value] of incoming) {
    if (!TOKEN.test(name) || BAD_VALUE.test(value)) {
      return refuse('bad_header', `header ${JSON.stringify(name.slice(0, 64))} cannot be forwarded`);
    }
  }
  const framing = bodyFraming(incoming);
  if (typeof framing === 'object') return framing;
  const secretHeader = route.secretHeader.toLowerCase();
  const dropped = new Set([
    ...HOP_BY_HOP,
    ...connectionNamed(incoming),
    ...ALWAYS_STRIP,
    ...strip.map((name) => name.toLowerCase()),
    'host',
    'content-length',
    secretHeader,
  ]);
  const out: HeaderPairs = incoming.filter(([name]) => !dropped.has(name));
  out.push(['host', url.host], ['accept-encoding', 'identity']);
  if (typeof framing === 'number' && framing > 0) out.push(['content-length', String(framing)]);
  if (framing === 'chunked') out.push(['transfer-encoding', 'chunked']);
  // split/join, not replace(): a '$&' in a secret must stay a '$&'.
  const presented = route.secretTemplate.split('{secret}').join(secret);
  if (BAD_VALUE.test(presented)) {
    return refuse(
      'tool_misconfigured',
      `the secret of tool ${JSON.stringify(route.toolId)} is not a header value`,
    );
  }
  out.push([secretHeader, presented]);
  return { ok: true, headers: toObject(out), body: framing };
}

/** RFC 9112 §6.3: exactly one way to know where the body ends, or a refusal. */
function bodyFraming(headers: HeaderPairs): number | 'chunked' | ProxyRefusal {
  const lengths = headers.filter(([name]) => name === 'content-length').map(([, value]) => value.trim());
  const codings = headers.filter(([name]) => name === 'transfer-encoding').map(([, value]) => value.trim());
  if (lengths.length > 0 && codings.length > 0) {
    return refuse('bad_header', 'Content-Length and Transfer-Encoding together');
  }
  if (codings.length > 0) {
    if (codings.length === 1 && codings[0]!.toLowerCase() === 'chunked') return 'chunked';
    return refuse('bad_header', 'a Transfer-Encoding other than one chunked');
  }
  if (lengths.length === 0) return 0;
  if (lengths.length > 1 || !/^\d{1,15}$/.test(lengths[0]!)) {
    return refuse('bad_header', 'Content-Length must be one decimal number');
  }
  return Number(lengths[0]);
}
