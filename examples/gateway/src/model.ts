/**
 * The fake model: deterministic tokens for a prompt, priced per token. Streaming paces them so a
 * client can cut a call off mid-way and see that only what streamed was charged.
 */

import { createHash } from 'node:crypto';

/** Cents per generated token. */
export const CENTS_PER_TOKEN = 0.1;
export const DEFAULT_MAX_TOKENS = 20;
export const MAX_TOKENS = 1000;
/** Time between streamed tokens. */
export const TOKEN_INTERVAL_MS = 100;

const WORDS = (
  'the agent asked for a budget and the gateway held the most it could cost then charged ' +
  'only what it streamed while every key kept its own cap scope and expiry in postgres'
).split(' ');

export interface CompletionRequest {
  prompt: string;
  maxTokens: number;
  stream: boolean;
}

/** The request body, or a sentence saying what is wrong with it. */
export function readCompletion(body: unknown): CompletionRequest | string {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'the body must be a JSON object: {"prompt": "…", "max_tokens": 20, "stream": false}';
  }
  const prompt = b.prompt ?? '';
  if (typeof prompt !== 'string' || prompt.length > 4000)
    return 'prompt must be a string of at most 4000 characters';
  const maxTokens = b.max_tokens ?? DEFAULT_MAX_TOKENS;
  if (!Number.isSafeInteger(maxTokens) || (maxTokens as number) < 1 || (maxTokens as number) > MAX_TOKENS) {
    return `max_tokens must be a whole number from 1 to ${MAX_TOKENS}`;
  }
  const stream = b.stream ?? false;
  if (typeof stream !== 'boolean') return 'stream must be true or false';
  return { prompt, maxTokens: maxTokens as number, stream };
}

/** The same prompt always gets the same answer (so an idempotent retry can return it again). */
export function* tokens(prompt: string, count: number): Generator<string> {
  const seed = createHash('sha256').update(prompt).digest();
  for (let i = 0; i < count; i++) yield `${WORDS[(seed[i % seed.length]! + i) % WORDS.length]} `;
}

/** Exact to 0.0001 ¢: 0.1 × n in floating point is not (0.1 × 3 = 0.30000000000000004). */
export function priceOf(count: number): number {
  return Math.round(count * CENTS_PER_TOKEN * 10_000) / 10_000;
}
