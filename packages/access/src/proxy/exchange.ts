import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readableBody } from './body.js';
import { redirectLocation } from './redirect.js';
import { agentHeaders } from './response-headers.js';
import type { ParsedRoute } from './route.js';
import { scrubber } from './scrub.js';
import { type ProxyCode, type ProxyLimits, type ProxyOutcome, refuse } from './types.js';

export interface Exchange {
  route: ParsedRoute;
  url: URL;
  req: IncomingMessage;
  res: ServerResponse;
  limits: ProxyLimits;
  headers: Record<string, string | string[]>;
  hasBody: boolean;
  forms: readonly string[];
}

/**
 * One request upstream and its answer back, streamed both ways with backpressure (a full buffer
 * pauses the other side). Bounded: no progress in any phase for timeoutMs ends it, and so does
 * maxDurationMs overall. Any end before the answer is complete destroys both sides: the agent sees
 * a cut answer, never a clean wrong one. Resolves once, with what happened.
 */
export function exchange(x: Exchange): Promise<ProxyOutcome> {
  const { req, res, limits, url } = x;
  return new Promise((resolve) => {
    let requestBytes = 0;
    let responseBytes = 0;
    let connected = false;
    let upstreamStatus: number | undefined;
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const quiet = () => fail('upstream_timeout', `no progress for ${limits.timeoutMs} ms`);
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(quiet, limits.timeoutMs);
    };
    const overall =
      limits.maxDurationMs === undefined
        ? undefined
        : setTimeout(() => fail('upstream_timeout', `over ${limits.maxDurationMs} ms`), limits.maxDurationMs);

    const upstream = (url.protocol === 'https:' ? httpsRequest : httpRequest)({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers: x.headers,
      setHost: false,
    });

    function settle(outcome: ProxyOutcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(overall);
      req.off('data', onRequestData);
      req.off('end', onRequestEnd);
      if (!upstream.writableFinished || !outcome.ok) upstream.destroy();
      resolve(outcome);
    }

    function fail(code: ProxyCode, message: string): void {
      if (settled) return;
      const answered = res.headersSent;
      if (answered) res.destroy();
      else if (!req.complete) res.setHeader('connection', 'close');
      settle({
        ...refuse(code, message),
        answered,
        requestBytes,
        responseBytes,
        ...(upstreamStatus === undefined ? {} : { upstreamStatus }),
      });
    }

    function onRequestData(chunk: Buffer): void {
      requestBytes += chunk.length;
      touch();
      if (requestBytes > limits.maxRequestBytes) {
        fail('body_too_large', `the request body is over ${limits.maxRequestBytes} bytes`);
        return;
      }
      if (!upstream.write(chunk)) req.pause();
    }
    function onRequestEnd(): void {
      upstream.end();
    }

    upstream.on('drain', () => {
      touch();
      if (!settled) req.resume();
    });
    upstream.on('socket', (socket) => {
      if (!socket.connecting) connected = true;
      socket.once('connect', () => {
        connected = true;
        touch();
      });
    });
    upstream.on('error', () =>
      fail(
        connected ? 'upstream_error' : 'upstream_unreachable',
        connected ? 'the upstream broke off the exchange' : 'the upstream cannot be reached',
      ),
    );
    upstream.on('response', (answer) => onResponse(answer));

    // The agent went away: stop the upstream at once.
    res.on('close', () => {
      if (!res.writableFinished) fail('aborted', 'the agent went away');
    });
    req.on('error', () => fail('aborted', 'the agent went away'));
    res.on('error', () => fail('aborted', 'the agent went away'));

    function onResponse(answer: IncomingMessage): void {
      touch();
      const status = answer.statusCode ?? 0;
      upstreamStatus = status;
      const headers = agentHeaders(answer.rawHeaders, x.forms);
      const location = answer.headers.location;
      if (location !== undefined) {
        const decided = redirectLocation(location, url, x.route, x.forms);
        // A redirect we cannot pass on is refused; a 201's Location elsewhere is only dropped.
        if (!decided.ok && status >= 300 && status < 400) {
          fail(decided.code, decided.message);
          return;
        }
        if (decided.ok) headers['location'] = decided.location;
      }
      const cap = limits.maxResponseBytes;
      const declared = Number(answer.headers['content-length'] ?? 0);
      if (cap !== undefined && declared > cap) {
        fail('response_too_large', `the upstream's answer is over ${cap} bytes`);
        return;
      }
      const body = readableBody(answer, headers, req.method === 'HEAD' || status === 204 || status === 304);
      if (body === null) {
        fail(
          'upstream_error',
          'the upstream answered in a content or transfer coding the secret check cannot read',
        );
        return;
      }
      try {
        res.writeHead(status, headers);
      } catch {
        fail('upstream_error', 'the upstream answered a status or header that cannot be passed on');
        return;
      }
      const scrub = scrubber(x.forms);
      // Counted as decoded: a small compressed answer cannot unpack past the cap.
      body.on('data', (chunk: Buffer) => {
        responseBytes += chunk.length;
        touch();
        if (cap !== undefined && responseBytes > cap) {
          fail('response_too_large', `the upstream's answer is over ${cap} bytes`);
          return;
        }
        if (!res.write(scrub.push(chunk))) body.pause();
      });
      res.on('drain', () => {
        touch();
        if (!settled) body.resume();
      });
      body.on('end', () => {
        if (!answer.complete) {
          fail('upstream_error', 'the upstream broke off its answer');
          return;
        }
        res.end(scrub.flush());
      });
      body.on('error', () => fail('upstream_error', 'the upstream sent a body that does not decode'));
      answer.on('aborted', () => fail('upstream_error', 'the upstream broke off its answer'));
      answer.on('error', () => fail('upstream_error', 'the upstream broke off its answer'));
      res.on('finish', () => settle({ ok: true, status, requestBytes, responseBytes, answered: true }));
    }

    touch();
    if (x.hasBody) {
      req.on('data', onRequestData);
      req.on('end', onRequestEnd);
    } else {
      upstream.end();
    }
  });
}
