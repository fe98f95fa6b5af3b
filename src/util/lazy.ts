/**
 * CommonJS `require` for what a command loads only on the path that needs it: a package or a Node
 * builtin whose load would otherwise land on every command's start, since a static import is
 * loaded before the first line runs. For a run that ends in milliseconds, start-up is most of the
 * command (docs/performance.md, "Nothing loaded that the command does not use").
 */
import { createRequire } from 'node:module';

export const requireLazily = createRequire(import.meta.url);

/** The hex digest of `data` under `algorithm` (node:crypto, loaded at the first call). */
export function hashHex(algorithm: string, data: string | Uint8Array): string {
  const { createHash } = requireLazily('node:crypto') as typeof import('node:crypto');
  return createHash(algorithm).update(data).digest('hex');
}

/** node:zlib, loaded at the first call (schedule tokens, gzip traces). */
export function zlib(): typeof import('node:zlib') {
  return requireLazily('node:zlib') as typeof import('node:zlib');
}
