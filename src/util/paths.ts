/** Where nestsim is installed: the package root, and the compiled worker entry points. */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
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
 * The compiled vCPU worker (built into dist/ by `npm ci`/`npm run build`): the loader of its
 * one-file bundle when that bundle is at least as new as the compiled module (it starts several
 * times faster, from V8's code cache: src/util/code-cache.ts), else the compiled module itself.
 */
export function vcpuWorkerFile(): string {
  const dir = join(packageRoot(), 'dist', 'workers');
  const f = join(dir, 'vcpu.js');
  if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
  const boot = join(dir, 'vcpu-boot.cjs');
  const bundle = join(dir, 'vcpu.bundle.cjs');
  if (existsSync(boot) && existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(f).mtimeMs) return boot;
  return f;
}

/**
 * Whether the bundled command line at `bundle` was built from older compiled modules than the
 * ones at `compiled` (a `tsc` run without `npm run build`'s bundle step): it would run stale code.
 * False when either file is missing (a run from the sources, or an install without the modules).
 */
export function bundleIsStale(bundle: string, compiled: string): boolean {
  try {
    return statSync(bundle).mtimeMs < statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
}

/**
 * A warning for the bundled command line started as `started` (its file, or a link to it): the line to print
 * when it is older than the compiled modules it was built from, else undefined.
 */
export function staleCommandWarning(started: string): string | undefined {
  let entry = started;
  try {
    entry = realpathSync(started); // npx and npm's bin links start it through a link
  } catch {
    return undefined;
  }
  if (!/[\\/]dist[\\/]bin[\\/]cli\.js$/.test(entry)) return undefined;
  const compiled = join(dirname(dirname(entry)), 'src', 'cli.js');
  if (!bundleIsStale(entry, compiled)) return undefined;
  return `nestsim: warning: ${entry} is older than ${compiled}: it runs the code of an earlier build; run \`npm run build\` to bundle the current one`;
}
