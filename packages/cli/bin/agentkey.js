#!/usr/bin/env node
// The `agentkey` command's entry (package.json "bin"): a committed file, so that a workspace install
// links the command before anything is built, and a run before the build says what to do.
import { existsSync } from 'node:fs';

const built = new URL('../dist/esm/main.js', import.meta.url);
if (!existsSync(built)) {
  console.error(
    'agentkey: @agentkey/cli is not built yet: run `npx -y pnpm@10 build` in the workspace, or `npx -y pnpm@10 -s agentkey …`, which runs the sources',
  );
  process.exit(1);
}
await import(built.href);
