import { SQL_FILES } from './embedded.js';
import type { TableNames } from './identifier.js';

/** The text of a .sql file under sql/ (`migrations/001_tables.sql`), as embedded at generation. */
export function sqlFile(path: string): string {
  const text = SQL_FILES[path];
  if (text === undefined) throw new Error(`agentkey: no SQL file ${path} (regenerate sql/embedded.ts)`);
  return text;
}

/**
 * Fills a .sql file's placeholders with the validated names of one deployment, and nothing else:
 * `{{keys}}` the keys table, `{{_suffix}}` an object named from it (`{{_holds}}`, `{{_charge}}`),
 * `{{index:_suffix}}` an index name, `{{table_id}}` and `{{resolved_name}}` (sql/identifier.ts).
 */
export function render(text: string, t: TableNames): string {
  return text.replace(/\{\{(index:)?(\w+)\}\}/g, (whole, index: string | undefined, name: string) => {
    if (index) return t.index(name);
    if (name === 'keys') return t.keys;
    if (name === 'table_id') return t.id;
    if (name === 'resolved_name') return t.resolvedName;
    if (name.startsWith('_')) return t.derived(name);
    throw new Error(`agentkey: unknown placeholder ${whole} in its SQL`);
  });
}

/** `sqlFile` rendered for `t`. */
export const renderFile = (path: string, t: TableNames) => render(sqlFile(path), t);
