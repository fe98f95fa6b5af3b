/**
 * The command line and the vCPU worker start from V8's code cache (src/util/code-cache.ts). A
 * cache is used only with the bundle it was made from, V8's own refusal falls back to compiling,
 * and an install nobody can write to still runs.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { codeCacheFile, loadCached } from '../../src/util/code-cache.js';
import { packageRoot } from '../../src/util/paths.js';

function bundle(body: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'nestsim-cache-')), 'b.cjs');
  writeFileSync(f, body);
  return f;
}

const SOURCE = `#!/usr/bin/env node
const path = require('node:path');
function twice(x) { return 2 * x; }
module.exports = { twice, base: path.basename(__filename), dir: __dirname };
`;

type Exports = { twice: (x: number) => number; base: string; dir: string };

/**
 * Load `f` in a fresh process (the built loader), call twice(x) and save: within one process V8
 * keeps compiled scripts by source, so a second load there would not show what the cache file did.
 */
function loadElsewhere(f: string, x: number): { fromCache: boolean; twice: number } {
  const loader = pathToFileURL(join(packageRoot(), 'dist', 'src', 'util', 'code-cache.js')).href;
  const js = `const { loadCached } = await import(${JSON.stringify(loader)}); const b = loadCached(${JSON.stringify(f)}); b.save(); console.log(JSON.stringify({ fromCache: b.fromCache, twice: b.exports.twice(${x}) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', js], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { fromCache: boolean; twice: number };
}

describe('code cache', () => {
  it('runs the bundle as CommonJS, writes the cache once, and starts from it the next time', () => {
    const f = bundle(SOURCE);
    const first = loadCached(f);
    expect(first.fromCache).toBe(false);
    const e = first.exports as Exports;
    expect(e.twice(21)).toBe(42); // the hashbang line did not stop it
    expect(e.base).toBe('b.cjs');
    expect(existsSync(codeCacheFile(f))).toBe(false);
    first.save();
    expect(statSync(codeCacheFile(f)).size).toBeGreaterThan(16);
    expect(loadElsewhere(f, 4)).toEqual({ fromCache: true, twice: 8 });
    expect(readdirSync(join(f, '..')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a rebuilt bundle of the same length does not start from the old cache', () => {
    const f = bundle(SOURCE);
    loadCached(f).save();
    // Same length, other code: V8 alone would check only the length. The header holds the modification time.
    writeFileSync(f, SOURCE.replace('2 * x', '3 * x'));
    const later = Date.now() / 1000 + 5;
    utimesSync(f, later, later);
    expect(loadElsewhere(f, 2)).toEqual({ fromCache: false, twice: 6 });
    expect(loadElsewhere(f, 2)).toEqual({ fromCache: true, twice: 6 });
  });

  it('a cache V8 turns away (another V8, other flags) is compiled around and written again', () => {
    const f = bundle(SOURCE);
    loadCached(f).save();
    const c = readFileSync(codeCacheFile(f));
    // V8's own header follows ours: its magic number, version hash, source hash and flag hash.
    for (let i = 16; i < 32; i++) c[i] ^= 0xff;
    writeFileSync(codeCacheFile(f), c);
    expect(loadElsewhere(f, 5)).toEqual({ fromCache: false, twice: 10 });
    expect(loadElsewhere(f, 5)).toEqual({ fromCache: true, twice: 10 });
  });

  it('a directory the user may not write to: no error, nothing half-written (root writes anyway: the next case fails for root too)', () => {
    const f = bundle(SOURCE);
    const dir = join(f, '..');
    chmodSync(dir, 0o555);
    try {
      const b = loadCached(f);
      expect(() => b.save()).not.toThrow();
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('a cache that cannot be written (its path is a directory, for root too): no error, no temporary file left', () => {
    const f = bundle(SOURCE);
    mkdirSync(codeCacheFile(f));
    const b = loadCached(f);
    expect(() => b.save()).not.toThrow();
    expect(readdirSync(join(f, '..')).sort()).toEqual(['b.cjs', 'b.cjs.v8-cache']);
    expect(statSync(codeCacheFile(f)).isDirectory()).toBe(true);
    expect(loadElsewhere(f, 7)).toEqual({ fromCache: false, twice: 14 });
  });

  it('the build leaves both programs a cache made from their current bundles, and the command runs from it', () => {
    const root = packageRoot();
    for (const b of [join(root, 'dist', 'bin', 'nestsim.cjs'), join(root, 'dist', 'workers', 'vcpu.bundle.cjs')]) {
      const c = readFileSync(codeCacheFile(b));
      const st = statSync(b);
      expect([c.readDoubleLE(0), c.readDoubleLE(8)]).toEqual([st.size, st.mtimeMs]);
    }
    const cache = codeCacheFile(join(root, 'dist', 'bin', 'nestsim.cjs'));
    const before = statSync(cache).mtimeMs;
    const r = spawnSync(process.execPath, [join(root, 'dist', 'bin', 'cli.js'), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^nestsim \d+\.\d+\.\d+/);
    // Started from the cache, so it had nothing to write.
    expect(statSync(cache).mtimeMs).toBe(before);
  });

  it('a command line whose bundle is missing says so in one line and exits 3', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nestsim-nobundle-'));
    for (const f of ['cli.js', 'package.json']) copyFileSync(join(packageRoot(), 'dist', 'bin', f), join(dir, f));
    const r = spawnSync(process.execPath, [join(dir, 'cli.js'), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^nestsim: internal error: cannot start .*nestsim\.cjs .*npm run build/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

