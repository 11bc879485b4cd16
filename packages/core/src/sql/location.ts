import { fileURLToPath } from 'node:url';

/**
 * The folder holding this module and the .sql files beside it. The CommonJS build replaces this
 * file with one that reads `__dirname` (scripts/package.mjs): `import.meta` exists only in ESM.
 */
export const SQL_DIR: string = fileURLToPath(new URL('.', import.meta.url));
