import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';

/** A Clerk M2M token as the Backend API describes it (snake_case, times in ms). */
export interface TokenJson {
  id: string;
  subject: string;
  scopes: string[];
  claims: Record<string, unknown> | null;
  revoked: boolean;
  revocation_reason: string | null;
  expired: boolean;
  expiration: number | null;
  created_at: number;
  updated_at: number;
}

export type StubAnswer =
  | { status: 200; token: TokenJson; delayMs?: number; contentType?: string }
  | { status: number; code?: string; delayMs?: number; headers?: Record<string, string> };

export interface StubRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/**
 * A local stand-in for the Clerk Backend API: `POST /m2m_tokens/verify` answers from `tokens`
 * (404 for unknown ones), `GET /v1/jwks` serves `jwks`. Counts every request.
 */
export class ClerkStub {
  readonly tokens = new Map<string, StubAnswer>();
  readonly requests: StubRequest[] = [];
  jwks: { status: number; body: unknown } = { status: 404, body: { errors: [] } };
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  /** Requests to the opaque-token endpoint. */
  get verifyCalls(): number {
    return this.requests.filter((r) => r.path === '/m2m_tokens/verify').length;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    const body: unknown = raw ? JSON.parse(raw) : null;
    this.requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
    if (req.method === 'GET' && path === '/v1/jwks') return send(res, this.jwks.status, this.jwks.body);
    if (req.method !== 'POST' || path !== '/m2m_tokens/verify')
      return sendError(res, 404, 'resource_not_found');
    const token = (body as { token?: unknown } | null)?.token;
    const answer = typeof token === 'string' ? this.tokens.get(token) : undefined;
    if (!answer) return sendError(res, 404, 'token_not_found');
    const reply = () =>
      'token' in answer
        ? send(res, 200, { object: 'machine_to_machine_token', ...answer.token }, contentType(answer))
        : sendError(res, answer.status, answer.code ?? 'error', answer.headers);
    if (!answer.delayMs) return reply();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!res.destroyed) reply();
    }, answer.delayMs);
    this.timers.add(timer);
  }
}

function contentType(answer: { contentType?: string }): Record<string, string> {
  return answer.contentType ? { 'content-type': answer.contentType } : {};
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  // Exactly `application/json`: with a charset the SDK hands back the raw text.
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  headers?: Record<string, string>,
): void {
  send(
    res,
    status,
    { errors: [{ code, message: code, long_message: `stub: ${code}` }], clerk_trace_id: 'trace_stub' },
    headers,
  );
}

/** A token description with sensible defaults: a live token of `mch_caller` that may call `mch_api`. */
export function tokenJson(now: number, overrides: Partial<TokenJson> = {}): TokenJson {
  return {
    id: 'mt_id_1',
    subject: 'mch_caller',
    scopes: ['mch_api'],
    claims: { team: 'billing' },
    revoked: false,
    revocation_reason: null,
    expired: false,
    expiration: now + 3_600_000,
    created_at: now - 60_000,
    updated_at: now - 60_000,
    ...overrides,
  };
}

/** A port nothing listens on: listen, note the port, close. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A settable clock for `now`. */
export function testClock(start = Date.UTC(2026, 0, 1)) {
  let t = start;
  return {
    now: () => new Date(t),
    get ms() {
      return t;
    },
    advance(ms: number) {
      t += ms;
    },
  };
}

/** One stub per test file, emptied before each test: `const stub = useClerkStub();` then `stub()`. */
export function useClerkStub(): () => ClerkStub {
  let stub: ClerkStub;
  beforeAll(async () => {
    stub = await new ClerkStub().start();
  });
  afterAll(() => stub.close());
  beforeEach(() => {
    stub.tokens.clear();
    stub.requests.length = 0;
  });
  return () => stub;
}
