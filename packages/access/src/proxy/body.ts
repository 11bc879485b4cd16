import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

const DECODERS: Readonly<Record<string, () => Readable & NodeJS.WritableStream>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The answer's body as the agent gets it, readable for the secret (scrub.ts). We ask for identity;
 * an upstream that compresses anyway is decoded (node:zlib) and passed on without its
 * Content-Encoding and Content-Length. A coding we cannot read (zstd, stacked codings, a transfer
 * coding other than chunked) → null:
 * the caller refuses it rather than pass on bytes nobody checked.
 */
export function readableBody(
  answer: IncomingMessage,
  headers: Record<string, string | string[]>,
  bodyless: boolean,
): Readable | null {
  if (bodyless) return answer; // HEAD, 204, 304: the headers describe a body that is not sent
  // node undoes `chunked` only: any other transfer coding (`gzip, chunked`, which we never asked
  // for, sending no TE) would reach the agent as bytes the secret check cannot read.
  if (listed(answer.headers['transfer-encoding']).some((coding) => coding !== 'chunked')) return null;
  const codings = listed(answer.headers['content-encoding']).filter((coding) => coding !== 'identity');
  if (codings.length === 0) return answer;
  const decoder = codings.length === 1 ? DECODERS[codings[0]!] : undefined;
  if (decoder === undefined) return null;
  delete headers['content-encoding'];
  delete headers['content-length'];
  const decoded = decoder();
  answer.pipe(decoded);
  return decoded;
}

/** A header's comma list, lower-cased, without empty members. */
const listed = (value: string | string[] | undefined): string[] =>
  String(value ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '');
