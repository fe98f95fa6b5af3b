/**
 * `nestsim stress`: many short, hot, racy rounds, in the spirit of jcstress. Each round is a
 * fresh machine and a fresh seed (seed + round) run to completion by the same worker pool; the
 * report says, per invariant, how many rounds were clean and how many violated, shows the first
 * violation in full, and gives the command that repeats that round.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../workload/types.js';
import { applyOverrides } from '../workload/config.js';
import type { ViolationRecord } from '../stats/results.js';
import { INVARIANTS } from '../invariants/names.js';
import { makePool, runSimulation } from './run.js';

export interface StressOptions {
  /** Stop starting rounds after this long (ms), unless `rounds` > 0. */
  timeMs: number;
  /** Exactly this many rounds (count-bounded); 0 = time-bounded. */
  rounds: number;
  /** Stop at the first violating round (mutation tests: time to detection). */
  stopAtFirst?: boolean;
  onRound?: (r: { round: number; seed: number; violations: number; violatingRounds: number; elapsedMs: number; fraction: number }) => void;
  /** A round with only violations a kernel window produced counts as violating too. */
  strict?: boolean;
  /** Aborting it stops the round in progress at its next safe point and starts no other. */
  signal?: AbortSignal;
}

export interface StressReport {
  config: string;
  protocol: string;
  mutations: readonly string[];
  rounds: number;
  /** Rounds with an unexplained violation (with `strict`, with any). */
  violatingRounds: number;
  /** Rounds in which a window of the kernel as written produced a violation. */
  windowRounds: number;
  elapsedMs: number;
  accesses: number;
  faults: number;
  /** Per invariant: rounds clean and rounds with at least one violation. */
  byInvariant: Record<string, { clean: number; violated: number }>;
  /** Stopped by SIGINT: the figures cover the rounds run so far (the last one cut short). */
  interrupted: boolean;
  /** First violating round: its number, seed, time from the start, and its first records. */
  first?: { round: number; seed: number; atMs: number; violations: ViolationRecord[]; repro: string };
}

export async function runStress(cfg: ResolvedConfig, o: StressOptions): Promise<StressReport> {
  const pool = makePool(cfg.vcpus);
  const t0 = performance.now();
  const report: StressReport = {
    config: cfg.file,
    protocol: cfg.protocol,
    mutations: cfg.mutations,
    rounds: 0,
    violatingRounds: 0,
    windowRounds: 0,
    elapsedMs: 0,
    accesses: 0,
    faults: 0,
    byInvariant: Object.fromEntries(INVARIANTS.map((n) => [n, { clean: 0, violated: 0 }])),
    interrupted: false,
  };
  try {
    for (let round = 0; ; round++) {
      if (o.signal?.aborted) break;
      if (o.rounds > 0 ? round >= o.rounds : round > 0 && performance.now() - t0 >= o.timeMs) break;
      const seed = (cfg.seed + round) >>> 0;
      const rc = applyOverrides(cfg, { seed: String(seed) }, 'stress');
      const out = await runSimulation(rc, { pool, strict: o.strict ?? false, ...(o.signal ? { signal: o.signal } : {}) });
      report.rounds++;
      report.accesses += out.doc.counts.accesses;
      report.faults += out.doc.counts.faultsTotal;
      const by = out.doc.checks.byInvariant;
      for (const name of INVARIANTS) {
        if ((by[name] ?? 0) > 0) report.byInvariant[name].violated++;
        else report.byInvariant[name].clean++;
      }
      if (out.doc.checks.violations > out.doc.checks.unexplained) report.windowRounds++;
      if (out.exitCode === 1) {
        report.violatingRounds++;
        if (!report.first) {
          const mut = cfg.mutations.map((m) => ` --mutation ${m}`).join('');
          report.first = {
            round,
            seed,
            atMs: performance.now() - t0,
            // The unexplained records first: they are why the round counts (kernel windows are expected).
            violations: [...out.doc.violations.filter((v) => !v.window), ...out.doc.violations.filter((v) => v.window)].slice(0, 5),
            repro: `nestsim run ${cfg.file} --seed ${seed} --protocol ${cfg.protocol}${mut}`,
          };
        }
      }
      const elapsedMs = performance.now() - t0;
      const fraction = o.rounds > 0 ? (round + 1) / o.rounds : Math.min(1, elapsedMs / Math.max(1, o.timeMs));
      o.onRound?.({ round, seed, violations: out.doc.checks.violations, violatingRounds: report.violatingRounds, elapsedMs, fraction });
      if (o.stopAtFirst && out.exitCode === 1) break;
    }
  } finally {
    await pool.destroy();
  }
  report.elapsedMs = performance.now() - t0;
  report.interrupted = o.signal?.aborted ?? false;
  // Invariants never touched by any round stay listed with their clean count.
  return report;
}

export function renderStress(r: StressReport, opts: { color: boolean; quiet: boolean }): string {
  const red = (s: string): string => (opts.color ? `\x1b[31m${s}\x1b[0m` : s);
  const green = (s: string): string => (opts.color ? `\x1b[32m${s}\x1b[0m` : s);
  const head = `${r.config}: ${r.rounds} rounds in ${(r.elapsedMs / 1000).toFixed(1)} s, protocol ${r.protocol}${r.mutations.length ? `, mutations ${r.mutations.join(' ')}` : ''}: `;
  const verdict =
    (r.violatingRounds === 0 ? green('0 violating rounds') : red(`${r.violatingRounds} violating rounds`)) +
    (r.windowRounds > 0 ? ` (${r.windowRounds} reproducing windows of the kernel as written)` : '');
  if (opts.quiet) return head + verdict;
  const lines = [head + verdict + (r.interrupted ? ' (interrupted: the last round was cut short)' : ''), ''];
  lines.push(`${'invariant'.padEnd(22)} ${'clean'.padStart(7)} ${'violated'.padStart(9)}`);
  for (const [name, v] of Object.entries(r.byInvariant)) {
    const row = `${name.padEnd(22)} ${String(v.clean).padStart(7)} ${String(v.violated).padStart(9)}`;
    lines.push(v.violated > 0 ? red(row) : row);
  }
  lines.push('', `${r.accesses.toLocaleString('en-US')} accesses, ${r.faults.toLocaleString('en-US')} faults`);
  if (r.first) {
    lines.push('', `first violation: round ${r.first.round} (seed ${r.first.seed}) after ${(r.first.atMs / 1000).toFixed(2)} s`);
    for (const v of r.first.violations) lines.push(`  [${v.invariant}] vCPU ${v.vcpu} at ${v.timeMs} ms: ${v.message}`);
    lines.push(`repeat it: ${r.first.repro}`);
  }
  return lines.join('\n');
}
