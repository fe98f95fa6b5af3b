/** Where nestsim is installed: the package root, and the compiled worker entry points. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The directory holding nestsim's package.json (works from src/ under vitest and from dist/). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'nestsim') return (root = dir);
      } catch {
        // not ours: keep looking
      }
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the nestsim package root');
}

/**
 * The compiled vCPU worker (built into dist/ by `npm ci`/`npm run build`): its one-file bundle
 * when that is at least as new as the compiled module (it loads several times faster), else the
 * compiled module itself.
 */
export function vcpuWorkerFile(): string {
  const f = join(packageRoot(), 'dist', 'workers', 'vcpu.js');
  if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
  const bundle = join(packageRoot(), 'dist', 'workers', 'vcpu.bundle.js');
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(f).mtimeMs) return bundle;
  return f;
}
