import { AgentKeyInputError } from '../errors/errors.js';
import { printable } from './duration.js';

/** The scope that grants every other. */
export const ADMIN_SCOPE = 'admin';

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
/** Identifiers (subjects, accounts, users): printable ASCII, as OIDC requires of `sub`. */
const IDENT = /^[\x20-\x7e]{1,512}$/;
/** Display names may be any text but control characters. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
export const MAX_SCOPES = 256;
/** Longer than any key we mint or 0.2.0 minted: refused before hashing. */
const MAX_KEY_LENGTH = 512;

export function isScope(value: unknown): value is string {
  return typeof value === 'string' && SCOPE.test(value);
}

/**
 * A scope asked for on a request. Looser than `isScope`: rows written by 0.2.0 may hold any text,
 * and a request must still be able to name it. Bounded, and free of control characters — a NUL
 * is text PostgreSQL refuses, and would fail every call sharing a batched statement.
 */
export function isAskedScope(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024 && !CONTROL.test(value);
}

/** Validates a scope list for storage: well-formed, bounded, within `validScopes` when configured. */
export function checkScopes(
  scopes: unknown,
  validScopes: ReadonlySet<string> | null,
  field = 'scopes',
): string[] | null {
  if (scopes === null || scopes === undefined) return null;
  if (!Array.isArray(scopes)) throw new AgentKeyInputError(`${field} must be an array of strings`, field);
  if (scopes.length > MAX_SCOPES)
    throw new AgentKeyInputError(`${field}: at most ${MAX_SCOPES} scopes`, field);
  const malformed = scopes.filter((s) => !isScope(s));
  if (malformed.length > 0) {
    throw new AgentKeyInputError(
      `Invalid scopes: ${malformed.map((s) => printable(String(s))).join(', ')} (a scope is 1-128 printable ASCII characters without space, quote or backslash)`,
      field,
    );
  }
  if (validScopes) {
    // `admin` grants every scope, so it is no exception: 0.2.0 refuses it too unless it is listed.
    const invalid = scopes.filter((s) => !validScopes.has(s));
    if (invalid.length > 0) throw new AgentKeyInputError(`Invalid scopes: ${invalid.join(', ')}`, field);
  }
  return [...new Set(scopes as string[])];
}

export function checkIdent(value: unknown, field: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string' || !IDENT.test(value)) {
    throw new AgentKeyInputError(
      `${field} must be 1-512 printable ASCII characters, got ${describe(value)}`,
      field,
    );
  }
  return value;
}

export function checkOptionalIdent(value: unknown, field: string): string | null {
  return value === null || value === undefined ? null : checkIdent(value, field);
}

export function checkName(value: unknown): string {
  if (value === null || value === undefined) return 'default';
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || CONTROL.test(value)) {
    throw new AgentKeyInputError(
      `name must be 1-200 characters without control characters, got ${describe(value)}`,
      'name',
    );
  }
  if (!value.isWellFormed()) throw new AgentKeyInputError('name must be well-formed Unicode', 'name');
  return value;
}

/** A subject as a caller hands it in: a bad one is simply not a known subject. */
export function isIdent(value: unknown): value is string {
  return typeof value === 'string' && IDENT.test(value);
}

/** A raw key as a caller hands it in: printable ASCII of bounded length, else unknown. */
export function isPlausibleKey(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_KEY_LENGTH &&
    /^[\x21-\x7e]+$/.test(value)
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return value.length === 0 ? 'an empty string' : JSON.stringify(printable(value));
  return value === null ? 'null' : typeof value;
}
