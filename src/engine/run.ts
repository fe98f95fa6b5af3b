/**
 * The coordinator: build the shared machine, start one piscina worker per vCPU, show live
 * progress from the shared counter blocks, then run the final audit, merge statistics and build
 * the results document.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Piscina } from 'piscina';
import { makePool } from './pool.js';
import { placeVcpus, runsHere, vcpusOfThread } from './vcpu-map.js';
import type { ResolvedConfig } from '../workload/types.js';
import type { Machine } from '../memory/machine.js';
import { COUNTER, COUNTER_COUNT, mergeCounters } from '../stats/counters.js';
import { totalFaults } from '../stats/kinds.js';
import { CTRL } from '../memory/records.js';
import { Histogram } from '../stats/histogram.js';
import { buildRunBody } from '../stats/results.js';
import { lockNames, perL1Of } from './l1-views.js';
import { computeLayout } from '../memory/layout.js';
import { convertTrace, type ConvertedTrace } from '../workload/trace.js';
import { makeHeader, type RunDocument } from '../stats/document.js';
import { SERIES_INTERVAL_MS, SeriesRecorder } from '../stats/series.js';
import { CONTROLLED_FREE_CLOCKS, replayArgs } from '../workload/overrides.js';
import { applyOverrides } from '../workload/config.js';
import { abandonSchedule, makeScheduleBuffer, readScheduleResult, type ScheduleResult } from '../sync/schedule-layout.js';
import { configHash, scheduleSection } from '../stats/schedule.js';
import type { ProgressInput } from '../report/progress.js';
import { audit, writesByL1 } from '../check/audit.js';
import { decodeViolations } from '../check/violations.js';
import { contextFor, setupMachine } from './setup.js';
import type { VcpuResult, VcpuTask } from './vcpu-loop.js';
import { runVcpus } from './vcpu-thread.js';

/** Live figures for the progress line (the report's own input type). */
export type ProgressSnapshot = ProgressInput;

export interface RunOptions {
  /** The command as typed, after `nestsim` (the document's `command`; default: the run that rebuilds the config). */
  command?: readonly string[];
  /** When the command started (default: now). */
  startedAt?: Date;
  /** Called about every `progressMs` with live figures. */
  onProgress?: (p: ProgressSnapshot) => void;
  progressMs?: number;
  /**
   * While the vCPU threads start (before the measured run): how many are ready of how many, and
   * the time since the run began. Called when the wait starts, about every `progressMs`, and once
   * all are ready (ready === total; not called if the run ends first).
   */
  onStartup?: (ready: number, total: number, elapsedMs: number) => void;
  /** Run the vCPUs on this thread, one after the other (tests; only sensible for 1 vCPU). */
  inline?: boolean;
  /** Reuse this worker pool (stress rounds) instead of starting one; it is left running. */
  pool?: Piscina;
  /** Worker threads for the vCPUs, vCPU v on thread v mod threads (default: engine/vcpu-map.ts `placeVcpus`); a given pool must have as many. */
  threads?: number;
  /**
   * Aborting it stops the run at the vCPUs' next safe point (they check the stop word every
   * 1,024 accesses and after every duty); the final audit still runs and the document says
   * `interrupted: true`.
   */
  signal?: AbortSignal;
  /** Exit 1 on any violation, reproduced kernel windows included (default: unexplained ones only). */
  strict?: boolean;
  /**
   * Stop the vCPUs at the first violation that fails the run (unexplained, or any with `strict`):
   * the verdict is in (stress --fail-fast). The final audit still runs; the document says
   * `run.stoppedAtViolation`.
   */
  stopAtViolation?: boolean;
  /** Under a controlled schedule: the packed choices to follow before its strategy takes over (a token's). */
  scheduleChoices?: Int32Array;
  /** Follow those choices' threads whatever point each decision is at (a shrunk list). */
  scheduleLenient?: boolean;
}

/** Consecutive `yield` steps of a controlled schedule that count as a livelock. */
export const MAX_IDLE_STEPS = 100_000;
/**
 * PCT's k by default: schedule points per access (configs/stress.yaml passes about 25 per access
 * with its actors; a k above the real count only spreads the change points).
 */
export const PCT_STEPS_PER_ACCESS = 32;
/** Decisions a controlled run logs for its token (4 bytes each). */
export const SCHEDULE_LOG_CAPACITY = 1 << 20;

export { makePool } from './pool.js';

export { EXIT_INTERRUPTED } from '../util/exit.js';
import { EXIT_INTERRUPTED } from '../util/exit.js';

export interface RunOutcome {
  doc: RunDocument;
  machine: Machine;
  /** 0 clean (or only reproduced kernel windows), 1 an unexplained violation (any, when strict), EXIT_INTERRUPTED stopped by the signal. */
  exitCode: number;
  /** A controlled run's schedule as the turnstile left it (choices and their candidates), else null. */
  schedule: ScheduleResult | null;
}

/** Sum one counter over every worker block. */
export function sumCounter(m: Machine, c: number): number {
  let s = 0;
  for (let wk = 0; wk < m.L.workers; wk++) s += m.f64[m.counterIndex(wk, c)];
  return s;
}

/** `Atomics.waitAsync` (Node 16+; not in the ES2022 library types): resolves when `w[i]` may have left `value`, or after `ms`. */
function waitAsync(w: Int32Array, i: number, value: number, ms: number): Promise<unknown> {
  const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown } }).waitAsync(w, i, value, ms);
  return r.async ? (r.value as Promise<unknown>) : Promise.resolve(r.value);
}

/**
 * The time the rates divide by (`run.durationMs`): the span from the start gate to the end; with
 * a warm-up, the vCPUs' mean measured time instead (each from its warm-up's end, where its
 * counters start, to its end), so the warm-up does not dilute the rates. Inline, the vCPUs ran one
 * after another: the span. 0 when no vCPU got past its warm-up.
 */
export function measuredDuration(results: ReadonlyArray<Pick<VcpuResult, 'measuredMs' | 'warmupDone'>>, warm: boolean, inline: boolean, spanMs: number): number {
  if (!warm || inline) return spanMs;
  const measured = results.filter((r) => r.warmupDone);
  return measured.length > 0 ? measured.reduce((s, r) => s + r.measuredMs, 0) / measured.length : 0;
}

/** The trace of `cfg` converted for its guests' geometry (pages after L1's read-only and MMIO ones). */
async function prepareTrace(cfg: ResolvedConfig): Promise<ConvertedTrace> {
  const L = computeLayout(cfg);
  return convertTrace(cfg.workload.trace, {
    pageBytes: 2 ** L.pageShift,
    firstPage: L.l2RoPages,
    pages: Math.max(1, L.guestPages - L.l2RoPages - L.l2MmioPages),
    skip: cfg.workload.traceSkip,
    limit: cfg.workload.traceLimit,
  });
}

/** All workers' counter blocks merged. */
function mergedCounters(m: Machine): Float64Array {
  const merged = new Float64Array(COUNTER_COUNT);
  for (let wk = 0; wk < m.L.workers; wk++) mergeCounters(merged, m.counterBlock(wk).subarray(0, COUNTER_COUNT));
  return merged;
}

/** Whether some vCPU is still in its warm-up (its counts start over when it ends). */
function warmingUp(cfg: ResolvedConfig, merged: Float64Array): boolean {
  return (cfg.warmupAccesses > 0 || cfg.warmupMs > 0) && merged[COUNTER.warmedUp] < cfg.vcpus;
}

export async function runSimulation(given: ResolvedConfig, opts: RunOptions = {}): Promise<RunOutcome> {
  const startedAt = opts.startedAt ?? new Date();
  // Under a controlled schedule one thread runs at a time: no modeled skew to bound (a vCPU
  // sleeping on it would hold the turn).
  const controlled = given.schedule.strategy !== 'free';
  const cfg = controlled && given.cost.skewCycles > 0 ? applyOverrides(given, { 'cost.skewCycles': '0' }, CONTROLLED_FREE_CLOCKS) : given;
  if (controlled && opts.inline && cfg.vcpus > 1) throw new Error('a controlled schedule of several vCPUs runs them on worker threads, not inline');
  const pctSteps = cfg.schedule.steps > 0 ? cfg.schedule.steps : Math.max(1, PCT_STEPS_PER_ACCESS * cfg.accesses * cfg.vcpus);
  const sched =
    cfg.schedule.strategy === 'free'
      ? undefined
      : makeScheduleBuffer(cfg.vcpus, {
          strategy: cfg.schedule.strategy,
          seed: cfg.seed,
          depth: cfg.schedule.depth,
          steps: pctSteps,
          preempt: cfg.schedule.preempt,
          maxIdle: MAX_IDLE_STEPS,
          logCapacity: SCHEDULE_LOG_CAPACITY,
          ...(opts.scheduleChoices !== undefined ? { choices: opts.scheduleChoices, lenient: opts.scheduleLenient === true } : {}),
        });
  const wall0 = performance.now();
  // A trace is converted before the machine is built (a bad line is a usage error, exit 2).
  const trace = cfg.workload.trace !== '' ? await prepareTrace(cfg) : undefined;
  const m = setupMachine(cfg);
  // The deadline bounds the whole run in duration mode (warm-up, audits and actors included),
  // from the start gate's opening; with `accesses` > 0 the run is bounded by work.
  let deadline = Date.now() + cfg.durationMs;
  const stopIdx = m.ctrl(CTRL.stop);
  if (opts.stopAtViolation) Atomics.store(m.w, m.ctrl(CTRL.stopOnViolation), opts.strict ? 2 : 1);
  let interrupted = false;
  const onAbort = (): void => {
    interrupted = true;
    Atomics.store(m.w, stopIdx, 1);
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // Inline, the vCPUs run one after the other on this thread, each alone.
  // A small run (with `threads` auto or 1) runs its vCPUs on this thread, multiplexed as one worker would.
  const here = opts.inline !== true && opts.pool === undefined && opts.threads === undefined && runsHere(cfg);
  const place = placeVcpus(cfg, false, opts.inline ? cfg.vcpus : here ? 1 : opts.threads);
  const threads = place.threads;
  const tasks: VcpuTask[] = [];
  for (let v = 0; v < cfg.vcpus; v++) {
    tasks.push({
      sab: m.sab,
      layout: m.L,
      cfg,
      vcpu: v,
      accesses: cfg.accesses,
      durationMs: cfg.durationMs,
      threadOf: place.threadOf,
      ...(sched !== undefined ? { sched } : {}),
      // Every vCPU replays the trace from its own offset: an equal share of the records apart.
      ...(trace !== undefined ? { trace: { file: trace.file, records: trace.records, start: Math.floor((v * trace.records) / cfg.vcpus) } } : {}),
    });
  }
  const series = new SeriesRecorder();
  series.add(0, new Float64Array(COUNTER_COUNT), cfg.warmupAccesses > 0 || cfg.warmupMs > 0);
  let t0 = performance.now();
  let results: VcpuResult[];
  if (opts.inline) {
    // One after the other on this thread: the gate is open from the start.
    Atomics.store(m.w, m.ctrl(CTRL.startGo), 1);
    results = tasks.map((t) => runVcpus([t], m)[0]);
  } else if (here) {
    // All of them on this thread, as the one worker would run them.
    Atomics.store(m.w, m.ctrl(CTRL.startGo), 1);
    t0 = performance.now();
    results = runVcpus(tasks, m);
  } else {
    const pool = opts.pool ?? makePool(threads);
    const runs = Array.from({ length: threads }, (_, t) => pool.run(vcpusOfThread(place, t).map((v) => tasks[v])) as Promise<VcpuResult[]>);
    let settled = false;
    // A vCPU that fails ends the run: the others stop at their next safe point, and a controlled
    // schedule is abandoned (they may be waiting for a turn the failed one would have handed on).
    for (const r of runs) {
      r.catch(() => {
        Atomics.store(m.w, stopIdx, 1);
        if (sched !== undefined) abandonSchedule(sched);
      });
    }
    const all = Promise.all(runs).finally(() => (settled = true));
    all.catch(() => {}); // awaited below; a failure also ends the wait at the gate
    // Open the start gate once every vCPU is ready: the measured run starts here.
    const readyIdx = m.ctrl(CTRL.startReady);
    const every = opts.progressMs ?? 250;
    let shownAt = -Infinity;
    for (let ready = Atomics.load(m.w, readyIdx); ; ready = Atomics.load(m.w, readyIdx)) {
      const now = performance.now() - wall0;
      if (opts.onStartup && (ready >= cfg.vcpus || now - shownAt >= every * 0.999)) {
        shownAt = now;
        opts.onStartup(Math.min(ready, cfg.vcpus), cfg.vcpus, now);
      }
      if (ready >= cfg.vcpus || settled || interrupted) break;
      await waitAsync(m.w, readyIdx, ready, Math.min(50, every));
    }
    t0 = performance.now();
    deadline = Date.now() + cfg.durationMs;
    Atomics.store(m.w, m.ctrl(CTRL.startGo), 1);
    Atomics.notify(m.w, m.ctrl(CTRL.startGo));
    // One timer samples the time series every interval and shows progress about every `progressMs`.
    const last = { ms: 0, accesses: 0, faults: 0 };
    shownAt = 0;
    const timer = setInterval(() => {
      const now = performance.now() - t0;
      const merged = mergedCounters(m);
      series.add(now, merged, warmingUp(cfg, merged));
      if (opts.onProgress && now - shownAt >= every * 0.999) {
        shownAt = now;
        opts.onProgress(snapshot(merged, cfg, now, last));
      }
    }, Math.min(SERIES_INTERVAL_MS, every));
    try {
      results = (await all).flat().sort((a, b) => a.vcpu - b.vcpu);
    } finally {
      clearInterval(timer);
      if (!opts.pool) await pool.destroy();
    }
  }
  opts.signal?.removeEventListener('abort', onAbort);
  const durationMs = measuredDuration(results, cfg.warmupAccesses > 0 || cfg.warmupMs > 0, opts.inline === true, performance.now() - t0);
  // Stopped by its own verdict (the first failing violation), not by Ctrl-C or its bound.
  const stoppedAtViolation = !interrupted && opts.stopAtViolation === true && Atomics.load(m.w, stopIdx) === 1;
  const overranMs = cfg.accesses > 0 ? 0 : Math.max(0, Date.now() - deadline);

  // Final audit, on a quiescent machine: every vCPU has left its guest. A schedule abandoned
  // (deadlock, livelock) left the machine mid-step, locks held: there is nothing to audit.
  const schedResult: ScheduleResult | null = sched !== undefined ? readScheduleResult(sched) : null;
  const abandoned = schedResult !== null && schedResult.outcome !== 'completed';
  const coord = contextFor(m, cfg, -1, m.L.workers - 1);
  const report = abandoned ? { lostWrites: 0 } : audit(coord, { writesCompleted: writesByL1(coord), vcpuGuests: [] });

  const merged = mergedCounters(m);
  series.add(durationMs, merged, results.some((r) => !r.warmupDone), true);
  const histograms: Record<string, Histogram> = {};
  for (const r of results) {
    for (const [k, data] of Object.entries(r.histograms)) {
      (histograms[k] ??= new Histogram()).merge(data);
    }
  }
  const { records, byInvariant, byWindow, total } = decodeViolations(m);
  const firstRecord = records.find((r) => r.window === undefined) ?? records[0];
  const schedule =
    schedResult !== null && cfg.schedule.strategy !== 'free'
      ? scheduleSection(schedResult, {
          strategy: cfg.schedule.strategy,
          seed: cfg.seed,
          depth: cfg.schedule.depth,
          steps: pctSteps,
          vcpus: cfg.vcpus,
          argv: replayArgs(given),
          config: configHash(given),
          first: firstRecord !== undefined ? { invariant: firstRecord.invariant, vcpu: firstRecord.vcpu, message: firstRecord.message } : null,
          nameOf: lockNames(m, cfg.guests.count),
        })
      : undefined;
  const body = buildRunBody({
    seed: cfg.seed,
    vcpus: cfg.vcpus,
    threads,
    durationMs,
    wallMs: performance.now() - wall0,
    counters: merged,
    histograms,
    violations: records,
    byInvariant,
    byWindow,
    hostOom: Atomics.load(m.w, m.ctrl(CTRL.hostOom)),
    overcommit: cfg.host.overcommit,
    lostWrites: report.lostWrites,
    perVcpu: Array.from({ length: cfg.vcpus }, (_, v) => m.counterBlock(v).slice(0, COUNTER_COUNT)),
    perL1: perL1Of(m),
    interrupted,
    stoppedAtViolation,
    ...(trace !== undefined ? { trace: { file: cfg.workload.trace, format: trace.format, records: trace.records, accesses: trace.accesses, distinctPages: trace.distinctPages, foldedPages: trace.foldedPages } } : {}),
    endedInWarmup: results.some((r) => !r.warmupDone),
    deadlineMs: cfg.accesses > 0 ? null : cfg.durationMs,
    overranMs,
    timeSeries: series.result(),
    ...(schedule !== undefined ? { schedule } : {}),
    ...(cfg.cost.model !== 'none'
      ? {
          modeled: {
            model: cfg.cost.model,
            cpuGHz: cfg.cost.cpuGHz,
            skewBound: cfg.cost.skewCycles,
            accessCycles: cfg.cost.accessCycles as number,
            vcpus: results.map((r) => ({ startCyc: r.modeledStartCyc, endCyc: r.modeledEndCyc, counters: m.counterBlock(r.vcpu).slice(0, COUNTER_COUNT) })),
          },
        }
      : {}),
  });
  // A violation a kernel window's own code path produced is reported as reproduced, not a failure,
  // unless `strict`.
  // A host that ran out of memory fails the run unless the config says it may (host.overcommit).
  // A controlled schedule that deadlocked or livelocked fails the run too.
  const failing = (opts.strict ? total : body.checks.unexplained) + (cfg.host.overcommit ? 0 : body.checks.hostOom) + (abandoned ? 1 : 0);
  const exitCode = interrupted ? EXIT_INTERRUPTED : failing > 0 ? 1 : 0;
  const header = makeHeader('run', cfg, opts.command ?? replayArgs(cfg), startedAt);
  const doc: RunDocument = { ...header, exitStatus: exitCode, interrupted, ...body };
  return { doc, machine: m, exitCode, schedule: schedResult };
}

/**
 * Live figures: totals so far, rates over the interval since `last` (which it then advances), the
 * fraction done and the time left (duration mode: to the deadline; accesses mode: at the current
 * pace).
 */
function snapshot(merged: Float64Array, cfg: ResolvedConfig, elapsedMs: number, last: { ms: number; accesses: number; faults: number }): ProgressSnapshot {
  const accesses = merged[COUNTER.accesses];
  const faults = totalFaults(merged);
  const s = Math.max(1e-3, (elapsedMs - last.ms) / 1000);
  const accessesPerSec = (accesses - last.accesses) / s;
  const faultsPerSec = (faults - last.faults) / s;
  last.ms = elapsedMs;
  last.accesses = accesses;
  last.faults = faults;
  const budget = cfg.accesses * cfg.vcpus;
  const fraction = cfg.accesses > 0 ? accesses / budget : Math.min(1, elapsedMs / cfg.durationMs);
  const etaMs = cfg.accesses > 0 ? (accessesPerSec > 0 ? ((budget - accesses) / accessesPerSec) * 1000 : undefined) : cfg.durationMs - elapsedMs;
  return {
    elapsedMs,
    accesses,
    faults,
    violations: merged[COUNTER.violations],
    accessesPerSec,
    faultsPerSec,
    fraction,
    ...(etaMs !== undefined ? { etaMs } : {}),
    ...(warmingUp(cfg, merged) ? { warmingUp: true } : {}),
  };
}

export const machineCpus = (): number => cpus().length;
