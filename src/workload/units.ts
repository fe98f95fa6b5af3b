/**
 * Sizes and durations as users write them in configs and on the command line.
 *
 * Parsers return `null` on malformed input; the caller knows the key and the source position
 * and turns that into a `ConfigError`.
 */

/** Binary multipliers of the size suffixes (K = 1024 bytes, not 1000). */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

const SIZE_MULTIPLIER: Readonly<Record<string, number>> = { '': 1, k: KiB, m: MiB, g: GiB, t: TiB };

/**
 * `<number><suffix>`: suffix K/M/G/T (any case), optionally followed by `B` or `iB`; or a bare
 * `B`; or nothing (bytes). Whitespace between the number and the suffix is allowed.
 */
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i;

/**
 * Parses a size: `512M`, `64G`, `4K`, `1T`, `4KiB`, `2MB`, `4096` (bytes). Suffixes are powers of
 * 1024 and case-insensitive. A fraction is accepted only when the result is a whole number of
 * bytes (`1.5G` yes, `1.5` no).
 *
 * @returns bytes, or null when `text` is not a size or not a safe integer number of bytes.
 */
export function parseSize(text: string): number | null {
  const m = SIZE_RE.exec(text.trim());
  if (m === null) return null;
  const bytes = Number(m[1]) * SIZE_MULTIPLIER[(m[2] ?? '').toLowerCase()];
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Milliseconds per duration unit. */
const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A number and a unit; the unit is required (a bare `3` could mean 3 ms or 3 s). */
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/i;

/** How a duration is written, for messages: `expected a duration like ..., found ...`. */
export const DURATION_EXAMPLES = '3s, 500ms or 2m';

/**
 * Parses a duration: `500ms`, `5s`, `2m`, `1h`, `1.5s`, `2 s`. One parser for every time-valued
 * key and flag (`duration:`, `--duration`, `stress --time`, `warmup: 2s`).
 *
 * @returns whole milliseconds, or null when `text` is not a number with a unit or not a whole
 *   number of ms.
 */
export function parseDuration(text: string): number | null {
  const m = DURATION_RE.exec(text.trim());
  if (m === null) return null;
  const ms = Number(m[1]) * DURATION_MS[m[2].toLowerCase()];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Formats bytes with the largest suffix that divides them exactly: 4294967296 -> `4G`, 1000 -> `1000`. */
export function formatSize(bytes: number): string {
  if (bytes === 0) return '0';
  for (const [suffix, mult] of [['T', TiB], ['G', GiB], ['M', MiB], ['K', KiB]] as const) {
    if (bytes % mult === 0) return `${bytes / mult}${suffix}`;
  }
  return String(bytes);
}

/** Formats milliseconds with the largest unit that divides them exactly: 5000 -> `5s`, 1500 -> `1500ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  for (const [unit, mult] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % mult === 0) return `${ms / mult}${unit}`;
  }
  return `${ms}ms`;
}
