/**
 * The forms in which an upstream could hand the secret back, each lower-cased (they are matched
 * case-insensitively, so upper-case hex and %2F/%2f are one form): the secret and its presented
 * header value (`Bearer …`), each as is, JSON-escaped (JSON.stringify, PHP's json_encode, \u00XX
 * escapes), percent-encoded (encodeURIComponent, RFC 3986 strict, form-urlencoded, every byte),
 * in base64 and base64url at each of the three alignments it can take inside a longer encoded text,
 * in hex, and HTML-escaped (minimal escapers' entity spellings, and every non-alphanumeric as a
 * numeric entity). Not caught: encodings nested twice, compression, encryption, or a secret
 * reflected in part; see the package README.
 */
export function secretForms(secret: string, presented: string): string[] {
  if (secret === '') return [];
  const forms = new Set<string>();
  for (const text of new Set([secret, presented])) {
    forms.add(text);
    for (const form of encodings(text)) forms.add(form);
  }
  return [...forms].map((form) => form.toLowerCase());
}

/**
 * An aligned base64 form shorter than this is left out: that of a 4-character secret is 2-3
 * characters, which would mask innocent text everywhere. The whole encodings are always kept.
 */
const MIN_ALIGNED = 8;

function encodings(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  return [
    ...jsonForms(text),
    ...percentForms(text, bytes),
    ...base64Forms(bytes),
    bytes.toString('hex'),
    ...htmlForms(text),
  ];
}

const hex2 = (code: number) => code.toString(16).padStart(2, '0');
const u4 = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

function jsonForms(text: string): string[] {
  // As a JSON string writes it (\" and \\); PHP's json_encode (\/ too); Go's (<, > and & as \u00XX);
  // and an encoder escaping every non-alphanumeric ASCII character.
  const json = JSON.stringify(text).slice(1, -1);
  return [
    json,
    json.replace(/\//g, '\\/'),
    json.replace(/[<>&]/g, u4),
    text.replace(/[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/g, u4),
  ];
}

function percentForms(text: string, bytes: Buffer): string[] {
  const component = encodeURIComponent(text);
  return [
    component,
    component.replace(/[!'()*]/g, (c) => `%${hex2(c.charCodeAt(0))}`),
    new URLSearchParams({ v: text }).toString().slice(2),
    [...bytes].map((b) => `%${hex2(b)}`).join(''),
  ];
}

/**
 * Base64 of the secret where it starts at byte 0, 1 or 2 of a 3-byte group of a longer text (an
 * echoed `user:secret`, a base64 dump of the request): the characters that depend on the secret's
 * bytes alone, in both alphabets. At offset 0 and a length that is a multiple of 3, that is the
 * whole encoding (padding dropped).
 */
function base64Forms(bytes: Buffer): string[] {
  const whole = bytes.toString('base64').replace(/=+$/, '');
  const out: string[] = [whole, bytes.toString('base64url')];
  for (const offset of [0, 1, 2]) {
    const shifted = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // Leading characters that mix in the unknown bytes before it, and a last one mixing bytes after.
    const lead = offset === 0 ? 0 : offset + 1;
    const trail = (offset + bytes.length) % 3 === 0 ? 0 : 1;
    const inner = shifted.slice(lead, shifted.length - trail);
    if (inner.length >= MIN_ALIGNED) out.push(inner, inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

function htmlForms(text: string): string[] {
  const minimal = (apos: string, quot = '&quot;') =>
    text.replace(/[&<>"']/g, (c) =>
      c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? quot : apos,
    );
  const numeric = (entity: (code: number) => string) =>
    text.replace(/[^A-Za-z0-9]/g, (c) => entity(c.codePointAt(0)!));
  return [
    minimal('&#39;'), // lodash, Go's html.EscapeString (with &#34;), Rails
    minimal('&#39;', '&#34;'),
    minimal('&#x27;'), // Python's html.escape
    minimal('&#039;'), // PHP's htmlspecialchars
    minimal('&apos;'),
    numeric((code) => `&#x${code.toString(16)};`), // OWASP encoders
    numeric((code) => `&#${code};`),
  ];
}
