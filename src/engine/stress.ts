/**
 * `nestsim stress`: many short, hot, racy rounds, in the spirit of jcstress. Each round is a
 * fresh machine and a fresh seed (seed + round) run to completion by the same worker pool; the
 * report says, per invariant, how many rounds were clean and how many violated, shows the first
 * violation in full, and gives the command that repeats that round.
 */
import { detectionOf } from '../stats/detection.js';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../workload/types.js';
import { applyOverrides, explicitSettings } from '../workload/config.js';
import { STRESS_FREE_CLOCKS, STRESS_ROUND, replayArgs, shellLine } from '../workload/overrides.js';
import { makeHeader, type StressDocument } from '../stats/document.js';
import { INVARIANTS } from '../invariants/names.js';
import { renderTimeline } from '../stats/schedule.js';
import type { Piscina } from 'piscina';
import { EXIT_INTERRUPTED, makePool, runSimulation } from './run.js';
import { PreemptionBoundedSearch } from './explore.js';
import { threadsFor } from './pool.js';

export interface StressOptions {
  /** Stop starting rounds after this long (ms), unless `rounds` > 0. */
  timeMs: number;
  /** Exactly this many rounds (count-bounded); 0 = time-bounded. */
  rounds: number;
  /**
   * Fail fast: stop at the first violation that fails a round, inside that round (its vCPUs stop
   * at their next safe point), and start no other round. The question "is it caught" is answered.
   */
  stopAtFirst?: boolean;
  onRound?: (r: { round: number; seed: number; violations: number; violatingRounds: number; elapsedMs: number; fraction: number }) => void;
  /** A round with only violations a kernel window produced counts as violating too. */
  strict?: boolean;
  /** Aborting it stops the round in progress at its next safe point and starts no other. */
  signal?: AbortSignal;
  /** The command as typed, after `nestsim` (the document's `command`). */
  command?: readonly string[];
  /** A pool of `cfg.vcpus` workers already starting (the campaign destroys it); default: one made here. */
  pool?: Piscina;
  /**
   * Run only shard `index` of `count` of a count-bounded campaign: rounds r with r % count ==
   * index. Seeds come from the round (first seed + r), never from the shard, so the merged shards
   * (`nestsim merge`) are the campaign run whole, however it was cut.
   */
  shard?: { index: number; count: number };
}

/** Records of the first violating round kept in the document. */
const FIRST_RECORDS = 5;

export async function runStress(given: ResolvedConfig, o: StressOptions): Promise<StressDocument> {
  const startedAt = new Date();
  // Stress asks which races happen: the modeled clocks' skew bound would change that (a vCPU
  // ahead in modeled time sleeps) and double a round's wall time on 2 cores, so rounds run with
  // free clocks unless the config sets the bound (docs/cost-model.md).
  const cfg = explicitSettings(given).some((s) => s.key === 'cost.skewCycles') ? given : applyOverrides(given, { 'cost.skewCycles': '0' }, STRESS_FREE_CLOCKS);
  const pool = o.pool ?? makePool(threadsFor(cfg, true));
  const t0 = performance.now();
  const doc: StressDocument = {
    ...makeHeader('stress', cfg, o.command ?? ['stress', cfg.file], startedAt),
    stress: {
      protocol: cfg.protocol,
      mutations: [...cfg.mutations],
      timeBudgetMs: o.rounds > 0 ? null : o.timeMs,
      roundsRequested: o.rounds > 0 ? o.rounds : null,
      strict: o.strict ?? false,
      failFast: o.stopAtFirst ?? false,
      rounds: 0,
      violatingRounds: 0,
      windowRounds: 0,
      elapsedMs: 0,
      accesses: 0,
      faults: 0,
    },
    outcomes: Object.fromEntries(INVARIANTS.map((n) => [n, { clean: 0, violated: 0, violations: 0 }])),
    rounds: [],
    firstViolation: null,
    detection: detectionOf([]),
    shard: o.shard !== undefined ? { index: o.shard.index, count: o.shard.count } : null,
    exploration: null,
  };
  // The exhaustive strategy: each round is the next schedule of a preemption-bounded search over
  // one seed's run, not a new seed.
  const search = cfg.schedule.strategy === 'exhaustive' ? new PreemptionBoundedSearch(cfg.schedule.preemptions) : null;
  if (search !== null && o.shard !== undefined) throw new Error('an exhaustive search is one campaign: it cannot be cut into shards');
  const sum = doc.stress;
  try {
    for (let round = 0; ; round++) {
      if (o.signal?.aborted) break;
      if (o.rounds > 0 ? round >= o.rounds : round > 0 && performance.now() - t0 >= o.timeMs) break;
      if (o.shard !== undefined && round % o.shard.count !== o.shard.index) continue;
      const prefix = search?.next();
      if (search !== null && prefix === undefined) break;
      const seed = search !== null ? cfg.seed : (cfg.seed + round) >>> 0;
      const rc = search !== null ? cfg : applyOverrides(cfg, { seed: String(seed) }, STRESS_ROUND);
      const startMs = performance.now() - t0;
      const out = await runSimulation(rc, {
        pool,
        threads: threadsFor(rc, true),
        strict: o.strict ?? false,
        stopAtViolation: o.stopAtFirst ?? false,
        ...(o.signal ? { signal: o.signal } : {}),
        ...(prefix !== undefined ? { scheduleChoices: prefix } : {}),
      });
      if (search !== null && prefix !== undefined && out.schedule !== null && !out.schedule.truncated) search.expand(prefix.length, out.schedule.choices, out.schedule.candidates);
      const d = out.doc;
      sum.rounds++;
      sum.accesses += d.counts.accesses;
      sum.faults += d.counts.faultsTotal;
      const by = d.checks.byInvariant;
      for (const name of INVARIANTS) {
        const n = by[name] ?? 0;
        const row = doc.outcomes[name]!;
        if (n > 0) row.violated++;
        else row.clean++;
        row.violations += n;
      }
      if (d.checks.violations > d.checks.unexplained) sum.windowRounds++;
      doc.rounds.push({
        round,
        seed,
        startMs: Math.round(startMs * 10) / 10,
        durationMs: d.run.durationMs,
        accesses: d.counts.accesses,
        faults: d.counts.faultsTotal,
        violations: d.checks.violations,
        unexplained: d.checks.unexplained,
        byInvariant: { ...by },
        byWindow: { ...d.checks.byWindow },
        exitStatus: out.exitCode,
        stoppedAtViolation: d.run.stoppedAtViolation,
        modeledNs: d.modeled?.durationNs ?? null,
        schedule: d.schedule?.outcome ?? null,
      });
      if (out.exitCode === 1) {
        sum.violatingRounds++;
        if (doc.firstViolation === null) {
          const replay = replayArgs(rc);
          doc.firstViolation = {
            round,
            seed,
            atMs: Math.round((performance.now() - t0) * 10) / 10,
            // The unexplained records first: they are why the round counts (kernel windows are expected).
            violations: [...d.violations.filter((v) => !v.window), ...d.violations.filter((v) => v.window)].slice(0, FIRST_RECORDS),
            replay,
            replayLine: shellLine(['nestsim', ...replay]),
            schedule: d.schedule,
          };
        }
      }
      const elapsedMs = performance.now() - t0;
      const fraction = o.rounds > 0 ? (round + 1) / o.rounds : Math.min(1, elapsedMs / Math.max(1, o.timeMs));
      o.onRound?.({ round, seed, violations: d.checks.violations, violatingRounds: sum.violatingRounds, elapsedMs, fraction });
      if (o.stopAtFirst && out.exitCode === 1) break;
    }
  } finally {
    await pool.destroy();
  }
  sum.elapsedMs = Math.round((performance.now() - t0) * 10) / 10;
  if (search !== null) doc.exploration = { preemptionBound: search.bound, schedules: search.schedules, exhausted: search.exhausted };
  // A round detects what it looks for when it fails (exit 1: an unexplained violation, any with --strict).
  doc.detection = detectionOf(doc.rounds.map((r) => ({ detected: r.exitStatus === 1, wallMs: r.durationMs, modeledNs: r.modeledNs })));
  doc.interrupted = o.signal?.aborted ?? false;
  doc.exitStatus = doc.interrupted ? EXIT_INTERRUPTED : sum.violatingRounds > 0 ? 1 : 0;
  return doc;
}

export function renderStress(doc: StressDocument, opts: { color: boolean; quiet: boolean }): string {
  const r = doc.stress;
  const red = (s: string): string => (opts.color ? `\x1b[31m${s}\x1b[0m` : s);
  const green = (s: string): string => (opts.color ? `\x1b[32m${s}\x1b[0m` : s);
  const head = `${doc.config.file as string}: ${r.rounds} rounds in ${(r.elapsedMs / 1000).toFixed(1)} s, protocol ${r.protocol}${r.mutations.length ? `, mutations ${r.mutations.join(' ')}` : ''}: `;
  const verdict =
    (r.violatingRounds === 0 ? green('0 violating rounds') : red(`${r.violatingRounds} violating rounds`)) +
    (r.windowRounds > 0 ? ` (${r.windowRounds} reproducing windows of the kernel as written)` : '');
  if (opts.quiet) return head + verdict;
  const lines = [head + verdict + (doc.interrupted ? ' (interrupted: the last round was cut short)' : ''), ''];
  lines.push(`${'invariant'.padEnd(22)} ${'clean'.padStart(7)} ${'violated'.padStart(9)}`);
  for (const [name, v] of Object.entries(doc.outcomes)) {
    const row = `${name.padEnd(22)} ${String(v.clean).padStart(7)} ${String(v.violated).padStart(9)}`;
    lines.push(v.violated > 0 ? red(row) : row);
  }
  lines.push('', `${r.accesses.toLocaleString('en-US')} accesses, ${r.faults.toLocaleString('en-US')} faults`);
  const x = doc.exploration;
  if (x !== null) lines.push(`exhaustive search: ${x.schedules.toLocaleString('en-US')} schedules with at most ${x.preemptionBound} preemptions, ${x.exhausted ? 'all of them' : 'more left (raise --iterations or --time)'}`);
  const det = doc.detection;
  if (det.rounds > 0) {
    // Whole percents, but a share between 0 and 1% keeps two significant digits (a clean
    // 10,000-round campaign's upper bound is 0.038%, not "0%").
    const pc = (x: number): string => (x > 0 && x < 0.01 ? `${+(x * 100).toPrecision(2)}%` : `${Math.round(x * 100)}%`);
    const est = (e: { estimate: number | null; ci95: [number | null, number | null] }, scale: number, unit: string): string => {
      const f = (x: number): string => String(+(x / scale).toPrecision(3));
      return e.estimate === null ? `never (${unit})` : `${f(e.estimate)} ${unit} (${f(e.ci95[0]!)}-${e.ci95[1] === null ? 'unbounded' : f(e.ci95[1])})`;
    };
    lines.push(
      `detection: ${det.detected} of ${det.rounds} rounds (${pc(det.share)}, 95% CI ${pc(det.shareCi95[0])}-${pc(det.shareCi95[1])}); to a first detection ` +
        `${est(det.roundsToDetect, 1, 'rounds')}, ${est(det.wallMsToDetect, 1000, 's wall')}` +
        (det.modeledNsToDetect !== null ? `, ${est(det.modeledNsToDetect, 1e6, 'ms modeled')}` : ''),
    );
  }
  const first = doc.firstViolation;
  if (first) {
    lines.push('', `first violation: round ${first.round} (seed ${first.seed}) after ${(first.atMs / 1000).toFixed(2)} s`);
    for (const v of first.violations) lines.push(`  [${v.invariant}] vCPU ${v.vcpu} at ${v.timeMs} ms: ${v.message}`);
    if (first.schedule !== null) {
      lines.push('', renderTimeline(first.schedule, doc.config.vcpus as number));
      lines.push('', `replay it exactly: nestsim replay ${first.schedule.token}`);
    } else lines.push(`repeat it: ${first.replayLine}`);
  }
  return lines.join('\n');
}
