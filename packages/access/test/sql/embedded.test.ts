import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { SQL_FILES } from '../../src/sql/embedded.js';

const dir = fileURLToPath(new URL('../../src/sql/', import.meta.url));

/** The .sql files under src/sql, as the generated module must carry them. */
function moduleText(): string {
  const files = readdirSync(join(dir, 'migrations'))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => [`migrations/${f}`, readFileSync(join(dir, 'migrations', f), 'utf8')] as const);
  return `// Generated from the .sql files under src/sql; do not edit. Regenerate with
//   UPDATE_SQL_SNAPSHOT=1 npx vitest run packages/access/test/sql/embedded.test.ts
// The SQL travels inside the modules (bundles carry it; nothing is read at run time).
export const SQL_FILES: Readonly<Record<string, string>> = {
${files.map(([path, text]) => `  ${JSON.stringify(path)}: ${JSON.stringify(text)},`).join('\n')}
};
`;
}

it('sql/embedded.ts carries every .sql file as it is now', () => {
  const text = moduleText();
  if (process.env.UPDATE_SQL_SNAPSHOT === '1') writeFileSync(join(dir, 'embedded.ts'), text);
  expect(readFileSync(join(dir, 'embedded.ts'), 'utf8')).toBe(text);
  expect(Object.keys(SQL_FILES)).toContain('migrations/001_access.sql');
});
