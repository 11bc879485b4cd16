/** The proxy's contract with the access routes (fixed in notes/contracts.md; fields may be added). */

export interface ToolRoute {
  toolId: string;
  /** The tool's origin + base path, e.g. 'http://127.0.0.1:4000/api/'. No userinfo, query or fragment. */
  baseUrl: string;
  /** Header name the secret is presented in, e.g. 'authorization'. */
  secretHeader: string;
  /** The header's value with a '{secret}' placeholder, e.g. 'Bearer {secret}'. */
  secretTemplate: string;
  /** Allowed methods, upper-case (compared exactly: 'get' is not 'GET'). TRACE and CONNECT never pass. */
  methods: readonly string[];
  /** Allowed paths relative to baseUrl's path, e.g. ['/repos/']; [] = none. See path.ts for matching. */
  pathPrefixes: readonly string[];
}

export interface ProxyLimits {
  /** Longest quiet spell in any phase (connect, upload, waiting for headers, download) before giving up. */
  timeoutMs: number;
  /** Cap on the agent's request body; over it → 413, refused on Content-Length before any byte is read. */
  maxRequestBytes: number;
  /** Cap on the upstream's response body; unset = no cap. */
  maxResponseBytes?: number;
  /** Added: an overall bound on the whole exchange, so a trickling upstream cannot hold it forever. */
  maxDurationMs?: number;
}

/** One table of codes and statuses, used by every refusal (the access routes may read `status`). */
export const PROXY_STATUS = {
  method_not_allowed: 405,
  path_not_allowed: 403,
  bad_path: 400,
  /** Added: a request header that cannot be forwarded safely (CR/LF, framing conflicts). */
  bad_header: 400,
  body_too_large: 413,
  upstream_timeout: 504,
  upstream_unreachable: 502,
  /** Added: the upstream broke the exchange after it connected (reset, malformed answer). */
  upstream_error: 502,
  /** Added: the upstream's body is over maxResponseBytes. */
  response_too_large: 502,
  redirect_off_origin: 502,
  /** Added: the tool's secret cannot be presented as a header value (a configuration fault). */
  tool_misconfigured: 500,
  /** The agent went away; nobody reads this status (nginx's 499 "client closed request"). */
  aborted: 499,
} as const;

export type ProxyCode = keyof typeof PROXY_STATUS;

export type ProxyRefusal = { ok: false; code: ProxyCode; status: number; message: string };

/** requestBytes/responseBytes on a refusal are added: what moved before it (for the audit row). */
export type ProxyOutcome =
  | { ok: true; status: number; requestBytes: number; responseBytes: number; answered: true }
  | (ProxyRefusal & { answered: boolean; requestBytes: number; responseBytes: number });

/** Messages are fixed phrases plus what the agent sent; never a secret, never an upstream's words. */
export function refuse(code: ProxyCode, message: string): ProxyRefusal {
  return { ok: false, code, status: PROXY_STATUS[code], message };
}
