import type { IncomingMessage, ServerResponse } from 'node:http';
import { exchange } from './exchange.js';
import { methodAllowed, printable } from './path.js';
import { upstreamHeaders } from './request-headers.js';
import { secretForms } from './response-headers.js';
import { parseRoute } from './route.js';
import { type ProxyLimits, type ProxyOutcome, type ProxyRefusal, refuse, type ToolRoute } from './types.js';

/**
 * Streams the agent's request to `url` (from checkProxyRequest) with the tool's secret injected, and
 * the upstream's answer back to `res`. Refusals before anything is written come back with
 * answered: false and the caller writes the error; a refusal that leaves the agent's body unread
 * sets `Connection: close` on res first, so that body is never read to its end.
 * Charging is the caller's: an upstream 5xx is passed through as ok with its status.
 */
export async function forward(
  route: ToolRoute,
  secret: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  limits: ProxyLimits,
  strip: readonly string[],
): Promise<ProxyOutcome> {
  const parsed = parseRoute(route);
  checkLimits(limits);
  const early = (refusal: ProxyRefusal): ProxyOutcome => {
    if (!req.complete) res.setHeader('connection', 'close');
    return { ...refusal, answered: false, requestBytes: 0, responseBytes: 0 };
  };
  // Checked again here, cheaply: a caller that checked one request and forwards another cannot
  // widen the grant.
  if (!methodAllowed(route, req.method ?? '')) {
    return early(
      refuse('method_not_allowed', `method ${printable(req.method ?? '')} is not granted for this tool`),
    );
  }
  if (
    url.origin !== parsed.origin ||
    url.username ||
    url.password ||
    url.hash ||
    !url.pathname.startsWith(`${parsed.basePath}/`)
  ) {
    return early(refuse('bad_path', 'the URL is not on the tool'));
  }
  const prepared = upstreamHeaders(route, secret, url, req.rawHeaders, strip);
  if (!prepared.ok) return early(prepared);
  if (typeof prepared.body === 'number' && prepared.body > limits.maxRequestBytes) {
    return early(refuse('body_too_large', `the request body is over ${limits.maxRequestBytes} bytes`));
  }
  if (prepared.body !== 0 && req.readableEnded) {
    throw new Error('forward: the request body was already read; mount the proxy before any body parser');
  }
  const presented = route.secretTemplate.split('{secret}').join(secret);
  return exchange({
    route: parsed,
    url,
    req,
    res,
    limits,
    headers: prepared.headers,
    hasBody: prepared.body !== 0,
    forms: secretForms(secret, presented),
  });
}

function checkLimits(limits: ProxyLimits): void {
  const positive = (name: string, value: number | undefined, optional: boolean) => {
    if (value === undefined && optional) return;
    if (
      typeof value !== 'number' ||
      !Number.isSafeInteger(value) ||
      value < (name.endsWith('Bytes') ? 0 : 1)
    ) {
      throw new TypeError(`ProxyLimits.${name} must be a non-negative integer (timeouts at least 1)`);
    }
  };
  positive('timeoutMs', limits.timeoutMs, false);
  positive('maxRequestBytes', limits.maxRequestBytes, false);
  positive('maxResponseBytes', limits.maxResponseBytes, true);
  positive('maxDurationMs', limits.maxDurationMs, true);
}
