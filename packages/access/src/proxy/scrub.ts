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
  let carry = Buffer.alloc(0);
  return {
    push(chunk) {
      const buf = Buffer.concat([carry, chunk]);
      mask(buf, needles);
      const cut = buf.length - heldTail(lowerAscii(buf), needles);
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

/** The longest tail of buf that is a proper prefix of a needle (it may complete in the next chunk). */
function heldTail(lower: Buffer, needles: readonly Buffer[]): number {
  for (let k = Math.min(lower.length, Math.max(0, ...needles.map((n) => n.length - 1))); k > 0; k--) {
    const tail = lower.subarray(lower.length - k);
    if (needles.some((needle) => needle.length > k && needle.subarray(0, k).equals(tail))) return k;
  }
  return 0;
}

function lowerAscii(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i] = out[i]! + 0x20;
  return out;
}
