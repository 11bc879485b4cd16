import { once } from 'node:events';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { connect } from 'node:net';
import { afterEach } from 'vitest';
import {
  checkProxyRequest,
  forward,
  type ProxyLimits,
  type ProxyOutcome,
  type ToolRoute,
} from '../../src/proxy/index.js';

/** Real local servers for the proxy tests: an upstream tool, and a gateway that mounts the proxy. */

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bytes: number;
  /** The body arrived whole ('end'); false when the request was cut off. */
  complete: Promise<boolean>;
  /** The proxy hung up before this request's answer was finished (true), or it finished (false). */
  dropped: Promise<boolean>;
}

export interface Running {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<Running> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** An upstream tool; the handler answers, every request it receives is recorded first. */
export async function upstream(
  handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void,
): Promise<Running & { seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const entry: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bytes: 0,
      complete: new Promise((resolve) => {
        req.on('end', () => resolve(true));
        req.on('close', () => resolve(req.complete));
      }),
      dropped: new Promise((resolve) => {
        res.on('finish', () => resolve(false));
        res.on('close', () => resolve(!res.writableFinished));
      }),
    };
    req.on('data', (chunk: Buffer) => {
      entry.bytes += chunk.length;
    });
    seen.push(entry);
    handler(req, res, entry);
  });
  return { ...(await listen(server)), seen };
}

export const SECRET = 'sk_live_Zq9$&x7Pr2Wm4Kc8';

export function route(baseUrl: string, over: Partial<ToolRoute> = {}): ToolRoute {
  return {
    toolId: 'tool',
    baseUrl,
    secretHeader: 'authorization',
    secretTemplate: 'Bearer {secret}',
    methods: ['GET', 'POST', 'PUT', 'HEAD'],
    pathPrefixes: ['/repos/'],
    ...over,
  };
}

export const LIMITS: ProxyLimits = { timeoutMs: 2_000, maxRequestBytes: 1 << 20 };

/**
 * A gateway that mounts the proxy at /proxy/tool/: checks, forwards, and writes refusals the way
 * the access routes would. Every outcome is recorded, in order.
 */
export async function gateway(
  tool: ToolRoute,
  limits: ProxyLimits = LIMITS,
  options: ServerOptions = {},
): Promise<Running & { outcomes: ProxyOutcome[]; next(): Promise<ProxyOutcome> }> {
  const outcomes: ProxyOutcome[] = [];
  const waiting: ((outcome: ProxyOutcome) => void)[] = [];
  let taken = 0;
  const record = (outcome: ProxyOutcome) => {
    outcomes.push(outcome);
    waiting.shift()?.(outcomes[taken++]!);
  };
  const server = createServer(options, async (req, res) => {
    const rawPath = (req.url ?? '').slice('/proxy/tool'.length);
    const checked = checkProxyRequest(tool, req.method ?? '', rawPath);
    const outcome = checked.ok
      ? await forward(tool, SECRET, checked.url, req, res, limits, ['x-agentkey-key'])
      : { ...checked, answered: false, requestBytes: 0, responseBytes: 0 };
    if (!outcome.answered) {
      res.writeHead(outcome.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: outcome.code, error_description: outcome.message }));
    }
    record(outcome);
  });
  const running = await listen(server);
  return {
    ...running,
    outcomes,
    // The next outcome not yet taken, whether it is already recorded or still to come.
    next: () =>
      new Promise((resolve) =>
        taken < outcomes.length ? resolve(outcomes[taken++]!) : waiting.push(resolve),
      ),
  };
}

/** Raw bytes to a server and everything it answers until it closes (or stops talking for a while). */
export async function raw(port: number, ...writes: (string | Buffer)[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  for (const write of writes) socket.write(write);
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('end', () => resolve());
    socket.setTimeout(1_000, () => resolve());
  });
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

/** keep(server) closes that server after the current test; call once per file. */
export function closedAfterEach(): <T extends { close(): Promise<void> | void }>(server: T) => T {
  const open: { close(): Promise<void> | void }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((server) => server.close()));
  });
  return (server) => {
    open.push(server);
    return server;
  };
}
