import { BAD_VALUE, connectionNamed, type HeaderPairs, HOP_BY_HOP, pairs, toObject } from './hop.js';
import { TOKEN } from './route.js';

export { secretForms } from './secret-forms.js';

/**
 * Cookies the upstream sets are dropped: a session it opens for our secret is as good as the
 * secret, and the agent must hold neither. (The agent's own cookies never reach it either.)
 */
const NEVER_RETURNED = new Set(['set-cookie', 'set-cookie2', 'location']);

/**
 * The upstream's headers → the agent's: end-to-end fields only, no cookies, and any field whose
 * name or value carries the secret in any form dropped whole (an upstream that echoes our request
 * headers back must not hand the agent the secret). Location is decided by redirect.ts.
 */
export function agentHeaders(
  rawHeaders: readonly string[],
  forms: readonly string[],
): Record<string, string | string[]> {
  const incoming = pairs(rawHeaders);
  const dropped = connectionNamed(incoming);
  const out: HeaderPairs = incoming.filter(
    ([name, value]) =>
      !HOP_BY_HOP.has(name) &&
      !dropped.has(name) &&
      !NEVER_RETURNED.has(name) &&
      TOKEN.test(name) &&
      !BAD_VALUE.test(value) &&
      !carriesSecret(`${name}\n${value}`, forms),
  );
  return toObject(out);
}

/** Case-insensitive: an echo may change case (hex secrets upper-cased). */
export function carriesSecret(text: string, forms: readonly string[]): boolean {
  const lower = text.toLowerCase();
  return forms.some((form) => lower.includes(form));
}
