/**
 * The config a command runs: the file, then the command line's overrides (options, `--schedule`,
 * `--set`), checked as the run will use it (the machine must be laid out for it).
 */
import { applyOverrides, configKeyError, loadConfig } from '../workload/config.js';
import { COMMAND_LINE, IMPLIED } from '../workload/overrides.js';
import type { ResolvedConfig } from '../workload/types.js';
import { LayoutError, computeLayout } from '../memory/layout.js';
import { UsageError, last, type Parsed } from './args.js';

/** Whether the machine can be laid out for `cfg`; a user error at the key to blame if not. */
export function checkMachine(cfg: ResolvedConfig): void {
  try {
    computeLayout(cfg);
  } catch (e) {
    if (e instanceof LayoutError) throw configKeyError(cfg, e.key, e.expected, e.found);
    throw e;
  }
}

/** Config with the command-line overrides applied, checked as the run will use it. */
export function configFrom(p: Parsed): ResolvedConfig {
  if (p.file === undefined) throw new UsageError(`${p.command}: expected a config file, found none (try configs/default.yaml)`);
  let cfg = loadConfig(p.file);
  const o: Record<string, string | string[]> = {};
  for (const k of ['vcpus', 'duration', 'accesses', 'seed', 'protocol'] as const) {
    const v = last(p, k);
    if (v !== undefined) o[k] = v;
  }
  // --accesses N (N > 0) bounds the run by work: no deadline unless --duration is given too.
  // --accesses 0 is duration mode (the config's duration, or --duration).
  const accesses = last(p, 'accesses');
  if (p.flags.has('mutation')) o.mutation = p.flags.get('mutation')!;
  if (p.flags.has('fix')) o.fix = p.flags.get('fix')!;
  if (p.flags.has('threshold')) o.threshold = p.flags.get('threshold')!;
  const schedule = last(p, 'schedule');
  if (schedule !== undefined) {
    const m = /^(free|random|pct|modeled|exhaustive)(?::(\d+))?$/.exec(schedule);
    if (m === null || (m[2] !== undefined && m[1] !== 'pct' && m[1] !== 'exhaustive')) throw new UsageError(`--schedule: expected free, random, pct, pct:DEPTH, modeled or exhaustive:BOUND, found "${schedule}"`);
    o['schedule.strategy'] = m[1]!;
    if (m[2] !== undefined) o[m[1] === 'pct' ? 'schedule.depth' : 'schedule.preemptions'] = m[2];
  }
  if (Object.keys(o).length > 0) cfg = applyOverrides(cfg, o, COMMAND_LINE);
  const implied: Record<string, string> = {};
  if (accesses !== undefined && accesses.trim() !== '0' && !p.flags.has('duration')) implied.duration = '24h';
  if (p.flags.has('duration') && accesses === undefined) implied.accesses = '0';
  if (Object.keys(implied).length > 0) cfg = applyOverrides(cfg, implied, IMPLIED);
  if (p.command !== 'sweep') {
    const sets: Record<string, string> = {};
    for (const s of p.flags.get('set') ?? []) {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new UsageError(`--set: expected key=value, found "${s}"`);
      sets[s.slice(0, eq)] = s.slice(eq + 1);
    }
    if (Object.keys(sets).length > 0) cfg = applyOverrides(cfg, sets, '--set');
    checkMachine(cfg);
  }
  return cfg;
}
