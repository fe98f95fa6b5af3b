#!/usr/bin/env node
/**
 * The `nestsim` command (package.json's `bin`, built to dist/bin/cli.js as CommonJS): starts the command line's
 * one-file bundle beside it (dist/bin/nestsim.cjs, built from src/cli.ts, which runs the command
 * when it sees itself started as dist/bin/cli.js) from V8's code cache (src/util/code-cache.ts),
 * and writes that cache when the process ends, if it had none to start from.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCached } from '../src/util/code-cache.js';

const bundle = loadCached(join(dirname(fileURLToPath(import.meta.url)), 'nestsim.cjs'));
if (!bundle.fromCache) process.once('exit', () => bundle.save());
