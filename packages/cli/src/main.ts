#!/usr/bin/env node
import { processIo } from './io.js';
import { main } from './run.js';

// The `agentkey` command. Ctrl-C aborts the run's signal: `ledger --follow` stops and closes the
// store; a second Ctrl-C exits at once.
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});
main(process.argv.slice(2), processIo(controller.signal)).then((code) => {
  // Exit now: an idle pool or PGlite's worker must not keep a finished command alive.
  process.exit(code);
});
