#!/usr/bin/env node
/**
 * The `nestsim` command (package.json's `bin`, built to dist/bin/cli.js as CommonJS): starts the command line's
 * one-file bundle beside it (dist/bin/nestsim.cjs, built from src/cli.ts, which runs the command
 * when it sees itself started as dist/bin/cli.js) from V8's code cache (src/util/code-cache.ts),
 * and writes that cache when the process ends, if it had none to start from.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCached, type CachedBundle } from '../src/util/code-cache.js';

const file = join(dirname(fileURLToPath(import.meta.url)), 'nestsim.cjs');
let bundle: CachedBundle | undefined;
try {
  bundle = loadCached(file);
} catch (e) {
  // A build cut short, or a file removed: one line and the internal-error status, not a stack.
  const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
  process.stderr.write(`nestsim: internal error: cannot start ${file} (${why}); run \`npm run build\`\n`);
  process.exitCode = 3;
}
if (bundle !== undefined && !bundle.fromCache) process.once('exit', () => bundle.save());
