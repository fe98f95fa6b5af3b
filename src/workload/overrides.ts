/**
 * Where each setting of a resolved config came from, and the command that rebuilds the config
 * exactly: the results documents record the first (`config.overrides`), stress and sweep print
 * the second (`replay`).
 */
import { KEY_BY_NAME, formatValue, type KeyValue } from './keys.js';
import { explicitSettings } from './config.js';
import type { ResolvedConfig } from './types.js';

/** One key that does not have its default: its value and where it was set. */
export interface Override {
  readonly key: string;
  readonly value: KeyValue;
  /** `file:line`, or the option that set it (`--vcpus`, `--set`), or `stress round` for a round's seed. */
  readonly from: string;
}

/** Source label of the command line's own options (`--vcpus 4`); `applyOverrides`' default. */
export const COMMAND_LINE = 'command line';
/** Source label of a value the command line implies rather than states (the duration `--accesses` lifts). */
export const IMPLIED = 'implied by --accesses';
/** Source label of the seed a stress round derives from the campaign's seed. */
export const STRESS_ROUND = 'stress round';
/** Where stress sets `cost.skewCycles: 0` when the config does not set it. */
export const STRESS_FREE_CLOCKS = 'stress: clocks run free';

/** Where a controlled schedule sets `cost.skewCycles: 0` (one thread runs at a time: no skew to bound). */
export const CONTROLLED_FREE_CLOCKS = 'schedule: one thread at a time';

/** Options of `run` that set a key directly; every other key is replayed as `--set key=value`. */
const DIRECT_FLAGS: Readonly<Record<string, string>> = { seed: 'seed', vcpus: 'vcpus', protocol: 'protocol', accesses: 'accesses', duration: 'duration' };
/** List keys the command line appends to, one option per element. */
const APPEND_FLAGS: Readonly<Record<string, string>> = { mutations: 'mutation', fixes: 'fix', thresholds: 'threshold' };

/** Every explicitly set key of `cfg` with where it came from, file keys first. */
export function overridesOf(cfg: ResolvedConfig): Override[] {
  const out: Override[] = [];
  for (const s of explicitSettings(cfg)) {
    let from: string;
    if (s.line > 0) from = `${s.file}:${s.line}`;
    else if (s.file === cfg.file) continue; // a copy made without positions: nothing is known
    else if (s.file === COMMAND_LINE) from = `--${s.shownKey}`;
    else from = s.file;
    out.push({ key: s.key, value: Array.isArray(s.value) ? [...(s.value as readonly string[])] : s.value, from });
  }
  return out;
}

/**
 * The argv (after `nestsim`) of a `run` that rebuilds `cfg` exactly: its file, then every key the
 * command line, a `--set`, a sweep point or a stress round set, as the option that sets it.
 */
export function replayArgs(cfg: ResolvedConfig): string[] {
  const args = ['run', cfg.file];
  for (const s of explicitSettings(cfg)) {
    if (s.line > 0 || s.file === cfg.file || s.file === IMPLIED) continue;
    const spec = KEY_BY_NAME.get(s.key);
    if (spec === undefined) continue;
    const direct = DIRECT_FLAGS[s.key];
    const append = APPEND_FLAGS[s.key];
    if (append !== undefined) for (const v of s.value as readonly string[]) args.push(`--${append}`, v);
    else if (direct !== undefined) args.push(`--${direct}`, formatValue(spec, s.value));
    else args.push('--set', `${s.shownKey}=${formatValue(spec, s.value)}`);
  }
  return args;
}

/** `argv` as one line a POSIX shell reads back as the same words. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
