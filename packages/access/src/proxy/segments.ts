/**
 * Path canonicalisation. The rule: what we check is byte for byte what we send, and no reading of it
 * by any upstream (one decode, two decodes, '\' as '/', ';' parameters, Unicode folding, Windows
 * trailing dots) can climb out of a segment. Anything ambiguous is refused, never repaired.
 */

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Raw characters a path may carry: RFC 3986 pchar and '/', with '%' checked separately. */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
/** A query may also carry '?'. */
const QUERY_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * '/a/b%7e/' → '/a/b~/': unreserved escapes decoded, other escapes upper-cased, everything else as
 * sent. null when the path is not absolute, has an empty segment ('//'), or any segment is unsafe.
 */
export function canonicalPath(raw: string): string | null {
  if (!raw.startsWith('/') || !PATH_CHARS.test(raw) || BAD_ESCAPE.test(raw)) return null;
  const segments = raw.slice(1).split('/');
  const out: string[] = [];
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === '' && !last) return null;
    const canonical = canonicalSegment(segment);
    if (canonical === null) return null;
    out.push(canonical);
  }
  return `/${out.join('/')}`;
}

/** The query without its '?', or null when it carries characters a request-target may not. */
export function checkQuery(query: string): boolean {
  return QUERY_CHARS.test(query) && !BAD_ESCAPE.test(query);
}

function canonicalSegment(segment: string): string | null {
  const bytes: number[] = [];
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch !== '%') {
      out += ch;
      bytes.push(ch.charCodeAt(0));
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    const byte = Number.parseInt(hex, 16);
    const decoded = String.fromCharCode(byte);
    out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    bytes.push(byte);
    i += 2;
  }
  let text: string;
  try {
    text = utf8.decode(new Uint8Array(bytes));
  } catch {
    return null; // overlong or broken UTF-8 ('%c0%af' is '/' to some decoders)
  }
  return unsafe(text) || unsafe(text.normalize('NFKC')) ? null : out;
}

/** The decoded segment as any upstream might read it. */
function unsafe(text: string): boolean {
  if (/[/\\\u0000-\u001f\u007f]/.test(text)) return true; // encoded '/' or '\', control characters
  if (/%[0-9A-Fa-f]{2}/.test(text)) return true; // double encoding: a second decode would differ
  const name = text.split(';')[0]!; // '..;/' is '..' to servlet containers
  return /^[.\s]*\.[.\s]*$/.test(name); // '.', '..', '...', '.. ' (Windows trims dots and spaces)
}
