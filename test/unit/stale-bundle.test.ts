/**
 * The bundled command line (dist/bin/cli.js) warns when the compiled modules it is bundled from
 * are newer than it: a `tsc` run without the bundle step would otherwise run stale code silently.
 */
import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleIsStale, staleCommandWarning } from '../../src/util/paths.js';

function install(binAgeS: number, srcAgeS: number | undefined): { bin: string; src: string } {
  const root = mkdtempSync(join(tmpdir(), 'nestsim-stale-'));
  mkdirSync(join(root, 'dist', 'bin'), { recursive: true });
  mkdirSync(join(root, 'dist', 'src'), { recursive: true });
  const bin = join(root, 'dist', 'bin', 'cli.js');
  const src = join(root, 'dist', 'src', 'cli.js');
  const now = Date.now() / 1000;
  writeFileSync(bin, '');
  utimesSync(bin, now - binAgeS, now - binAgeS);
  if (srcAgeS !== undefined) {
    writeFileSync(src, '');
    utimesSync(src, now - srcAgeS, now - srcAgeS);
  }
  return { bin, src };
}

describe('stale bundled command line', () => {
  it('a bundle older than the compiled modules warns, naming both files and the fix', () => {
    const { bin, src } = install(60, 10);
    expect(bundleIsStale(bin, src)).toBe(true);
    const w = staleCommandWarning(bin);
    expect(w).toContain(bin);
    expect(w).toContain(src);
    expect(w).toContain('npm run build');
  });

  it('a bundle built after the modules (what npm run build does) is quiet', () => {
    const { bin, src } = install(10, 60);
    expect(bundleIsStale(bin, src)).toBe(false);
    expect(staleCommandWarning(bin)).toBeUndefined();
  });

  it('started through a link (npx, an installed bin), the target is checked', () => {
    const { bin } = install(60, 10);
    const link = join(mkdtempSync(join(tmpdir(), 'nestsim-link-')), 'nestsim');
    symlinkSync(bin, link);
    expect(staleCommandWarning(link)).toContain('npm run build');
  });

  it('no compiled modules, or not the bundle at all: nothing to compare, no warning', () => {
    const { bin } = install(60, undefined);
    expect(staleCommandWarning(bin)).toBeUndefined();
    const { src } = install(60, 10);
    expect(staleCommandWarning(src)).toBeUndefined();
    expect(staleCommandWarning('/nonexistent/dist/bin/cli.js')).toBeUndefined();
  });
});
