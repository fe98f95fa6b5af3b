/**
 * Loading a CommonJS bundle through V8's code cache: the command line and the vCPU worker start
 * from bytecode V8 compiled on an earlier run instead of parsing and compiling the bundle again.
 *
 * The cache file sits beside the bundle (`<bundle>.v8-cache`). It starts with the bundle's size and
 * modification time, so a rebuilt bundle never meets the cache of the one before; V8 itself turns
 * away a cache made by another V8 version or under other flags (`cachedDataRejected`). Either way
 * the bundle is compiled as usual and the cache written again when the process is done, so the
 * cache holds every function that process ran, not only the top level.
 *
 * Writing is best effort: in an install the user cannot write to, a command runs as it did
 * before the cache (nothing is serialised there).
 * Several processes (or threads) may write at once: each writes its own file and renames it over
 * the cache, which replaces it whole.
 *
 * Node 22 has `module.enableCompileCache()` for this; Node 20 does not (docs/performance.md,
 * "Starting from cached bytecode").
 */
import { accessSync, constants, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { threadId } from 'node:worker_threads';

/** Bytes before V8's data: the bundle's size and modification time in ms (two little-endian doubles). */
const HEADER = 16;

export interface CachedBundle {
  /** The bundle's `module.exports` after it ran. */
  readonly exports: unknown;
  /** Whether V8 started from the cache file. */
  readonly fromCache: boolean;
  /** Write the cache when it was missing or turned away (else nothing); call once the work is done. */
  save(): void;
}

/** The cache file of `bundle`. */
export function codeCacheFile(bundle: string): string {
  return `${bundle}.v8-cache`;
}

/** Run the CommonJS file `bundle` as Node would, from its code cache where a valid one exists. */
export function loadCached(bundle: string): CachedBundle {
  const st = statSync(bundle);
  let source = readFileSync(bundle, 'utf8');
  if (source.startsWith('#!')) source = `//${source.slice(2)}`; // a hashbang is not JavaScript
  const cacheFile = codeCacheFile(bundle);
  let cached: Buffer | undefined;
  try {
    const b = readFileSync(cacheFile);
    if (b.length > HEADER && b.readDoubleLE(0) === st.size && b.readDoubleLE(8) === st.mtimeMs) cached = b.subarray(HEADER);
  } catch {
    // no cache yet
  }
  // The function CommonJS wraps a module in (Node's `Module.wrap`, which ES modules cannot import).
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
  // A bundle may not call import(): a script has no module loader (a CommonJS package is require()d).
  const script = new Script(wrapped, { filename: bundle, cachedData: cached });
  const fromCache = cached !== undefined && script.cachedDataRejected !== true;
  const module = { exports: {} as unknown };
  const body = script.runInThisContext() as (e: unknown, r: NodeRequire, m: { exports: unknown }, f: string, d: string) => void;
  body(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  let saved = fromCache;
  return {
    exports: module.exports,
    fromCache,
    save() {
      if (saved) return;
      saved = true;
      const tmp = `${cacheFile}.${process.pid}-${threadId}.tmp`;
      try {
        accessSync(dirname(bundle), constants.W_OK); // else do not serialise what cannot be written
        const data = script.createCachedData();
        const head = Buffer.alloc(HEADER);
        head.writeDoubleLE(st.size, 0);
        head.writeDoubleLE(st.mtimeMs, 8);
        writeFileSync(tmp, Buffer.concat([head, data]));
        renameSync(tmp, cacheFile);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // nothing was written
        }
      }
    },
  };
}
