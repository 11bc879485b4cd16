/**
 * The .sql files under src/sql as one generated module (sql/embedded.ts), so the SQL travels inside
 * the package's modules: a bundled application (esbuild, serverless builds) carries it, and no
 * file is read at run time. The .sql files stay the source; the snapshot test regenerates the
 * module and fails while it is stale.
 */
export function embeddedModule(files: ReadonlyMap<string, string>): string {
  const entries = [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `// Generated from the .sql files under src/sql; do not edit. Regenerate with
//   UPDATE_SQL_SNAPSHOT=1 npx vitest run packages/core/test/sql/snapshot.test.ts
// Each file's text is one JSON string: the .sql files are the ones to read.
export const SQL_FILES: Readonly<Record<string, string>> = {
${entries.map(([path, text]) => `  ${JSON.stringify(path)}: ${JSON.stringify(text)},`).join('\n')}
};
`;
}
