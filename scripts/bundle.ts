/**
 * `npm run build`'s second step: esbuild bundles of the two programs nestsim starts, each a
 * CommonJS file that a small loader runs from V8's code cache (src/util/code-cache.ts), and a
 * first run of each so an install starts from cached bytecode on its first command.
 *
 * - The vCPU worker: dist/workers/vcpu.bundle.cjs (from workers/vcpu.ts), started through
 *   dist/workers/vcpu-boot.cjs (boot/vcpu.ts). Every vCPU thread loads the whole simulator; as a
 *   graph of ~50 modules that took 40-90 ms per thread here, as one file 10-16 ms, and from the
 *   code cache less again, which counts when 16 threads start on 2 cores. `vcpuWorkerFile` uses
 *   the bundle only when it is at least as new as the compiled worker, so a build that skipped
 *   this step never runs stale code.
 * - The command line: dist/bin/nestsim.cjs (from src/cli.ts, the YAML parser inlined), started
 *   through dist/bin/cli.js (boot/cli.ts, package.json's `bin`). One file: from the code cache, a
 *   command no longer pays for compiling what it runs, and reading the parts it does not run costs
 *   less than resolving chunks did (docs/performance.md, "Starting from cached bytecode").
 *
 * CommonJS because only a classic script can be compiled with V8's cached data on Node 20.
 */
import { build, type BuildOptions } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/util/paths.js';

const root = packageRoot();
const dist = join(root, 'dist');

/** A CommonJS bundle whose modules read `import.meta.url` (paths, lazy require) as the bundle's own URL. */
const commonJs: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { 'import.meta.url': 'nestsimBundleUrl' },
  banner: { js: "const nestsimBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

/**
 * A loader: one small CommonJS file, nestsim's own modules inlined. CommonJS, so Node sets up no
 * ES module graph for the entry point: about 7% of a one-access run (docs/performance.md).
 */
const loader: BuildOptions = { ...commonJs, packages: 'external' };

const workers = join(dist, 'workers');
for (const stale of ['vcpu.bundle.js', 'vcpu-boot.js', 'vcpu.bundle.cjs.v8-cache']) rmSync(join(workers, stale), { force: true });
// Only nestsim's own modules go in; npm packages stay require() calls.
await build({ ...commonJs, entryPoints: [join(workers, 'vcpu.js')], outfile: join(workers, 'vcpu.bundle.cjs'), packages: 'external' });
await build({ ...loader, entryPoints: [join(dist, 'boot', 'vcpu.js')], outfile: join(workers, 'vcpu-boot.cjs') });

const binDir = join(dist, 'bin');
rmSync(binDir, { recursive: true, force: true }); // nothing of an earlier build left behind, its cache included
await build({
  ...commonJs,
  entryPoints: [join(dist, 'src', 'cli.js')],
  outfile: join(binDir, 'nestsim.cjs'),
  // The YAML parser goes in; the worker pool stays a package (it starts its own worker file from
  // its install directory), and the development-only packages stay outside.
  external: ['piscina', 'ajv', 'ajv/*', 'esbuild', 'puppeteer-core'],
});
await build({ ...loader, entryPoints: [join(dist, 'boot', 'cli.js')], outfile: join(binDir, 'cli.js') });
// package.json's `bin` names cli.js, which the package's "type" would make an ES module.
writeFileSync(join(binDir, 'package.json'), '{ "type": "commonjs" }\n');

// A script has no module loader: an import() left in a bundle would fail only when reached.
for (const f of [join(workers, 'vcpu.bundle.cjs'), join(binDir, 'nestsim.cjs')]) {
  const at = readFileSync(f, 'utf8').search(/\bimport\(/);
  if (at >= 0) throw new Error(`${f} calls import() (offset ${at}): require() that package instead (src/util/lazy.ts)`);
}

// Two first runs write the caches: a small run on the command's own thread (config, run, vCPU loop,
// table) for the command line's, then one on a worker thread for the worker's. A failure here is
// not the build's: the command then compiles as it would without a cache, and says why.
for (const accesses of ['64', '8192']) {
  const args = [join(binDir, 'cli.js'), 'run', join(root, 'configs', 'fault-storm.yaml'), '--accesses', accesses, '--quiet'];
  const first = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (first.status !== 0) process.stderr.write(`bundle: a first run to fill the code caches exited ${first.status}: ${first.stderr.trim()}\n`);
}
