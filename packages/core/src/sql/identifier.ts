import { AgentKeyInputError } from '../errors/errors.js';

const PART = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Room for the longest suffix of a table agentkey derives from this one (`_external_subject_key`).
const MAX_TABLE = 63 - '_external_subject_key'.length;

export interface TableNames {
  /** The keys table, quoted and schema-qualified when given so. */
  keys: string;
  /** Name for an object derived from the keys table (same schema), quoted. */
  derived(suffix: string): string;
  /** Unquoted index name (CREATE INDEX takes no schema). */
  index(suffix: string): string;
  /** The name as given, lower-cased: `table` or `schema.table`. */
  id: string;
  /**
   * SQL text naming the table the same way however it was spelled (`schema.table`, or the bare
   * name found through search_path): unqualified names resolve to `current_schema()`, where
   * CREATE TABLE puts them. For advisory locks, which must agree across spellings.
   */
  resolvedName: string;
}

/**
 * Validates `tableName` (optionally `schema.table`) as plain SQL identifiers and quotes them.
 * Names fold to lower case as PostgreSQL folds unquoted identifiers, so a table agentkey 0.2.0
 * created as `My_Keys` is the same table here.
 */
export function tableNames(tableName: unknown): TableNames {
  if (typeof tableName !== 'string') throw new AgentKeyInputError('tableName must be a string', 'tableName');
  const parts = tableName.split('.');
  if (parts.length > 2 || !parts.every((p) => PART.test(p) && p.length <= 63)) {
    throw new AgentKeyInputError(
      `tableName must be an SQL identifier or schema.identifier (letters, digits, _), got ${JSON.stringify(tableName.slice(0, 80))}`,
      'tableName',
    );
  }
  const lower = parts.map((p) => p.toLowerCase());
  const table = lower[lower.length - 1]!;
  if (table.length > MAX_TABLE) {
    throw new AgentKeyInputError(
      `tableName: the table name may have at most ${MAX_TABLE} characters`,
      'tableName',
    );
  }
  const schema = lower.length === 2 ? `"${lower[0]}".` : '';
  return {
    keys: `${schema}"${table}"`,
    derived: (suffix) => `${schema}"${table}${suffix}"`,
    index: (suffix) => `"${table}${suffix}"`,
    id: lower.join('.'),
    // Both parts passed PART above (letters, digits, _): safe inside a literal.
    resolvedName: lower.length === 2 ? `'${lower.join('.')}'` : `(current_schema() || '.${table}')`,
  };
}
