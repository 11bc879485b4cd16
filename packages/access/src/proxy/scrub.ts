/**
 * Masks the secret, in any of its forms, in a streamed body: each occurrence becomes as many '*',
 * so lengths (and Content-Length) hold. Only a chunk's tail that could begin a form is held back
 * for the next chunk, so an occurrence split across chunks is caught and a stream of ordinary
 * events (SSE, NDJSON) still flows chunk by chunk. Case-insensitive, like the header check.
 * Only an identity-encoded body can be read this way; the forwarder asks the upstream for one.
 */
export interface Scrubber {
  push(chunk: Buffer): Buffer;
  flush(): Buffer;
}

const STAR = 0x2a;

export function scrubber(forms: readonly string[]): Scrubber {
  const needles = forms.filter((form) => form !== '').map((form) => lowerAscii(Buffer.from(form, 'utf8')));
  const tables = needles.map(failure);
  let carry = Buffer.alloc(0);
  return {
    push(chunk) {
      const buf = Buffer.concat([carry, chunk]);
      mask(buf, needles);
      const cut = buf.length - heldTail(lowerAscii(buf), needles, tables);
      carry = buf.subarray(cut);
      return buf.subarray(0, cut);
    },
    flush() {
      const rest = carry;
      carry = Buffer.alloc(0);
      return rest;
    },
  };
}

function mask(buf: Buffer, needles: readonly Buffer[]): void {
  if (needles.length === 0) return;
  const haystack = lowerAscii(buf);
  for (const needle of needles) {
    for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
      buf.fill(STAR, at, at + needle.length);
    }
  }
}

/**
 * The longest tail of buf that is a proper prefix of a needle (it may complete in the next chunk):
 * per needle, its prefix automaton (Knuth-Morris-Pratt) run over the last needle-length bytes, so a
 * chunk costs the needles' total length, not its square (a secret may be 8 KB, its forms six times).
 */
function heldTail(lower: Buffer, needles: readonly Buffer[], tables: readonly Int32Array[]): number {
  let held = 0;
  for (const [i, needle] of needles.entries()) {
    const fail = tables[i]!;
    let state = 0;
    for (let at = Math.max(0, lower.length - (needle.length - 1)); at < lower.length; at++) {
      while (state > 0 && lower[at] !== needle[state]) state = fail[state - 1]!;
      if (lower[at] === needle[state]) state++;
      // A whole needle here was masked already: go on from its longest proper border.
      if (state === needle.length) state = fail[state - 1]!;
    }
    held = Math.max(held, state);
  }
  return held;
}

/** fail[i]: the length of the longest proper prefix of needle[0..i] that is also its suffix. */
function failure(needle: Buffer): Int32Array {
  const fail = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = fail[k - 1]!;
    if (needle[i] === needle[k]) k++;
    fail[i] = k;
  }
  return fail;
}

function lowerAscii(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i] = out[i]! + 0x20;
  return out;
}
