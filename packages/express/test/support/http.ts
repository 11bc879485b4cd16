import { once } from 'node:events';
import { request as httpRequest, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queryable } from '@agentkey/core';
import type { Express } from 'express';
import { vi } from 'vitest';

export const LIBS = ['express', 'express4'] as const;
export type Lib = (typeof LIBS)[number];

/**
 * Loads `lib` and, after it, this package, core and the test database support, with `express`
 * resolving to `lib` everywhere: under `express4` the routes are built on Express 4's own Router,
 * as in an app that has Express 4 installed. Everything shares one copy of core.
 */
export async function load(lib: Lib) {
  vi.resetModules();
  if (lib === 'express4') vi.doMock('express', () => import('express4'));
  else vi.doUnmock('express');
  const express = (await import(lib)).default as typeof import('express');
  const pkg = await import('@agentkey/express');
  const core = await import('@agentkey/core');
  const support = await import('@agentkey/test-support/db.js');
  return { express, pkg, core, support };
}
export type Loaded = Awaited<ReturnType<typeof load>>;

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON reply, checked field by field with expect
  body: any;
  headers: Headers;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  /** Sent as is, with `Content-Type: application/json`. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface Served {
  request(method: string, path: string, options?: RequestOptions): Promise<Reply>;
  /**
   * Sends `headers` through node:http as they are: an array value goes out as one header line per
   * item (fetch would join them into one line), so a request can carry two `Authorization` lines.
   */
  rawRequest(
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body?: string,
  ): Promise<Reply>;
  close(): Promise<void>;
  /** For requests written byte for byte on a socket. */
  port: number;
}

/** Starts `app` on 127.0.0.1 on a free port; requests give up after 5 s, so a hang fails fast. */
export async function serve(app: Express): Promise<Served> {
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    request: (method, path, options) => requestJson(base + path, method, options),
    rawRequest(method, path, headers, body) {
      return new Promise<Reply>((resolve, reject) => {
        const outgoing = headers as OutgoingHttpHeaders;
        const req = httpRequest(base + path, { method, headers: outgoing, timeout: 5000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const replyHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined)
                replyHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
            }
            resolve({ status: res.statusCode ?? 0, body: parseJson(text), headers: replyHeaders });
          });
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** One request to `url` (a running server's), its JSON answer parsed; gives up after 5 s. */
export async function requestJson(url: string, method: string, options: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.rawBody !== undefined || options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: parseJson(await res.text()), headers: res.headers };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Rows in the keys table: proves a refused request wrote nothing. */
export async function countRows(db: { pool: Queryable; table: string }) {
  const result = await db.pool.query(`SELECT count(*)::int AS n FROM ${db.table}`);
  return result.rows[0].n as number;
}
