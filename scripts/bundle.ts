/**
 * `npm run build`'s second step: esbuild bundles of the two programs nestsim starts.
 *
 * - The vCPU worker as one file (dist/workers/vcpu.bundle.js). Every vCPU thread loads the whole
 *   simulator; loaded as a graph of ~50 modules that takes 40-90 ms per thread here, as one file
 *   10-16 ms, which counts when 16 threads start on 2 cores. `vcpuWorkerFile` uses the bundle
 *   only when it is at least as new as the compiled worker, so a build that skipped this step
 *   never runs stale code.
 * - The command line (dist/bin/cli.js, package.json's `bin`), with the YAML parser inlined. Split
 *   into chunks, so a command still loads only what it runs (the engine, the report and the
 *   trace recorder stay behind their dynamic imports). Resolving and compiling ~120 separate
 *   modules was a third of a one-access run's wall time; the bundle cuts that run to ~0.8x.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/util/paths.js';

const root = packageRoot();
await build({
  entryPoints: [join(root, 'dist', 'workers', 'vcpu.js')],
  outfile: join(root, 'dist', 'workers', 'vcpu.bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Only nestsim's own modules go in; npm packages stay imports (some are CommonJS, which an ES
  // module bundle cannot inline faithfully).
  packages: 'external',
  logLevel: 'warning',
});

const binDir = join(root, 'dist', 'bin');
rmSync(binDir, { recursive: true, force: true }); // no chunk of an earlier build left behind
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli.js')],
  outdir: binDir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The YAML parser (CommonJS, self-contained) goes in; the worker pool stays a package (it starts
  // its own worker file from its install directory), and the development-only packages the
  // schema self-check loads stay imports.
  external: ['piscina', 'ajv', 'ajv/*', 'esbuild', 'puppeteer-core'],
  // The inlined CommonJS asks for node builtins (`process`, `buffer`) with require().
  banner: { js: "import { createRequire as nestsimRequire } from 'node:module'; const require = nestsimRequire(import.meta.url);" },
  logLevel: 'warning',
});
