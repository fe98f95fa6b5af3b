/**
 * `npm run build`'s second step: the vCPU worker as one bundled file
 * (dist/workers/vcpu.bundle.js). Every vCPU thread loads the whole simulator; loaded as a graph
 * of ~50 modules that takes 40-90 ms per thread here, as one file 10-16 ms, which counts when
 * 16 threads start on 2 cores. `vcpuWorkerFile` uses the bundle only when it is at least as new
 * as the compiled worker, so a build that skipped this step never runs stale code.
 */
import { build } from 'esbuild';
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
