/**
 * The life of one simulated L2 vCPU: generate accesses, run them through the processor model,
 * run actor duties scheduled by work done (so a seeded 1-vCPU run is deterministic), and take
 * part in stop-the-world audits. Runs on a worker thread (workers/vcpu.ts) or, for tests and
 * `--vcpus 1`, on the calling thread.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../workload/types.js';
import { Prng } from '../workload/prng.js';
import { makeGenerator, type PageGenerator } from '../workload/generators.js';
import { TraceReader } from '../workload/trace-reader.js';
import { type Layout } from '../memory/layout.js';
import { CTRL } from '../memory/records.js';
import { attachMachine, type Machine } from '../memory/machine.js';
import { COUNTER } from '../stats/counters.js';
import type { HvContext } from '../hv/context.js';
import { FAULT_KIND_NAMES, STAGE_NAMES } from '../stats/kinds.js';
import { Cpu } from '../hw/cpu.js';
import { MODELED_PREFIX } from '../stats/results.js';

import { l1DataPage } from '../hv/l1-handler.js';
import { slotOfLpid } from '../hv/guests.js';
import { contextFor, controlledHook, guestOfVcpu, l1OfVcpu } from './setup.js';
import { Duties } from './duties.js';
import { auditPoint } from './barrier.js';
import { ScheduleAbandoned, Turnstile, setCurrentTurnstile } from '../sync/turnstile.js';

export interface VcpuTask {
  sab: SharedArrayBuffer;
  layout: Layout;
  cfg: ResolvedConfig;
  vcpu: number;
  /** Accesses to run (0 = for `durationMs`). */
  accesses: number;
  /** Run length (ms) when `accesses` is 0, from the start gate's opening. */
  durationMs: number;
  /** A converted trace to replay instead of the pattern (workload.trace): its file, records, and this vCPU's first record. */
  trace?: { file: string; records: number; start: number };
  /** A controlled schedule's control buffer (sync/turnstile.ts); absent: the threads run freely. */
  sched?: SharedArrayBuffer;
}

export interface VcpuResult {
  vcpu: number;
  accesses: number;
  /** Its measured time (ms): from its warm-up's end (the start gate without one) to its end; 0 if never measured. */
  measuredMs: number;
  /** Whether warm-up finished before the run ended (else every figure is zero). */
  warmupDone: boolean;
  /** Histogram data by latency kind (Float64Array); modeled ones under `modeled.<kind>`. */
  histograms: Record<string, Float64Array>;
  /** Its modeled clock (cycles) where its measured run began and where it ended (both 0 without a cost model). */
  modeledStartCyc: number;
  modeledEndCyc: number;
}

const CHECK_EVERY = 1024;

/** Run one vCPU to completion on this thread. `machine` may be passed when already attached. */
export function runVcpu(task: VcpuTask, machine?: Machine): VcpuResult {
  const cfg = task.cfg;
  const v = task.vcpu;
  // The vCPU's view of the machine: its L1's regions (and the shared ones).
  const m = (machine ?? attachMachine(task.sab, task.layout)).forL1(l1OfVcpu(cfg, v));
  // Under a controlled schedule, every named point of the fault path is a schedule point too.
  const turnstile = task.sched !== undefined ? new Turnstile(task.sched, v, m.w) : null;
  const ctx = contextFor(m, cfg, v, v, turnstile !== null ? { hook: controlledHook(turnstile, cfg, v) } : undefined);
  if (turnstile !== null) turnstile.clock = ctx;
  const w = m.w;
  Atomics.add(w, m.ctrl(CTRL.running), 1);
  const cpu = new Cpu(ctx, guestOfVcpu(cfg, v));
  const prng = new Prng(cfg.seed, v + 1);
  const L = m.L;
  const pageBytes = 2 ** L.pageShift;
  const wsPages = Math.max(1, Math.min(L.guestPages - L.l2MmioPages, Math.floor(cfg.workload.workingSetBytes / pageBytes)));
  const gen: PageGenerator = makeGenerator(cfg.workload, wsPages, prng);
  const trace = task.trace !== undefined ? new TraceReader(task.trace.file, task.trace.records, task.trace.start, cfg.workload.traceRepeat) : null;
  const duties = new Duties(ctx, cpu, cfg, prng, wsPages);
  // Access-type thresholds on one 32-bit draw (a float draw costs two).
  const writeT = Math.round(cfg.workload.writeRatio * 2 ** 32);
  const execT = Math.round((cfg.workload.writeRatio + cfg.workload.execRatio) * 2 ** 32);
  const mmioT = Math.round((cfg.workload.writeRatio + cfg.workload.execRatio + cfg.workload.mmioRatio) * 2 ** 32);
  const mmioBase = L.guestPages - L.l2MmioPages;
  const hasMmio = mmioT > execT && L.l2MmioPages > 0;
  // L1's own accesses: runs of L1_BURST_ACCESSES, a share l1Ratio of all accesses, to the L1
  // pages behind the guest's working set (see l1BurstThreshold).
  const l1T = l1BurstThreshold(cfg.workload.l1Ratio);
  const l1Slot = slotOfLpid(guestOfVcpu(cfg, v));
  let l1Left = 0;
  const basePn = L.basePn;
  // Warm-up ends after `warmupAccesses` accesses, or, given as a duration, at the first check past
  // `warmupMs` (its end is then the access count reached: `warmup` is set there).
  const timedWarmup = cfg.warmupMs > 0;
  let warmup = timedWarmup ? Infinity : cfg.warmupAccesses;
  let total = task.accesses > 0 && !timedWarmup ? task.accesses + warmup : Infinity;
  const stopIdx = m.ctrl(CTRL.stop);
  /** Duration mode: the run ends at `deadlineMs` (set when the start gate opens). */
  const timed = task.accesses === 0;
  let seenAudit = 0;
  // Waiting to re-enter a destroyed guest must not hold up an audit (the auditor may be one of
  // the vCPUs the waiter waits for).
  cpu.onWait = () => {
    seenAudit = auditPoint(m, cpu, seenAudit);
  };
  // The start gate: every vCPU built before any runs, so the measured run (and its deadline) does
  // not include the other threads' start-up (on a few cores, 16 workers loading the simulator
  // take seconds). The coordinator opens it; Ctrl-C before that ends the run.
  const goIdx = m.ctrl(CTRL.startGo);
  cpu.setClockActive(true);
  Atomics.add(w, m.ctrl(CTRL.startReady), 1);
  Atomics.notify(w, m.ctrl(CTRL.startReady));
  while (Atomics.load(w, goIdx) === 0 && Atomics.load(w, stopIdx) === 0) Atomics.wait(w, goIdx, 0, 50);
  const deadlineMs = Date.now() + task.durationMs;
  // Where this vCPU's figures start: here, or where its warm-up ends (its counters reset there).
  let measuredFrom = performance.now();
  let modeledFrom = ctx.cyc;
  let n = 0;
  // A controlled schedule abandoned (deadlock, livelock) ends the run where it stands: the
  // machine is left as it is (locks may be held), for the report only.
  let abandoned = false;
  try {
    if (turnstile !== null) {
      setCurrentTurnstile(turnstile);
      turnstile.begin();
    }
    while (!cpu.enter()) {
      cpu.onWait();
      if (turnstile !== null) turnstile.yieldPoint();
      else Atomics.wait(w, stopIdx, 0, 1);
    }
    const warmupEndMs = Date.now() + cfg.warmupMs;
    for (; n < total; n++) {
      if ((n & (CHECK_EVERY - 1)) === 0) {
        if (Atomics.load(w, stopIdx) !== 0) break;
        if (warmup === Infinity && Date.now() >= warmupEndMs) {
          warmup = n;
          if (task.accesses > 0) total = n + task.accesses;
          resetAfterWarmup(ctx, cpu);
          measuredFrom = performance.now();
          modeledFrom = ctx.cyc;
        }
        // In duration mode the deadline bounds warm-up too (a warm-up longer than the run ends it).
        if (timed && Date.now() >= deadlineMs) break;
      }
      if ((n & 15) === 0) seenAudit = auditPoint(m, cpu, seenAudit);
      if (n === warmup && warmup > 0 && !timedWarmup) {
        resetAfterWarmup(ctx, cpu);
        measuredFrom = performance.now();
        modeledFrom = ctx.cyc;
      }
      if (trace !== null) {
        // A real program's access stream: page and type from the trace.
        const page = trace.next();
        if (trace.done) break;
        cpu.access(page * basePn, trace.type);
      } else {
        const r = prng.nextU32();
        // Branch-free type choice (`+(a < b)` is a flag set; a random 30% branch mispredicts often
        // enough to cost more than the rest of a TLB hit): ACCESS_STORE = 1, ACCESS_FETCH = 2.
        const type = +(r < writeT) | ((+(r >= writeT) & +(r < execT)) << 1);
        let page: number;
        if (l1T > 0 && (l1Left > 0 || prng.nextU32() < l1T)) {
          l1Left = (l1Left > 0 ? l1Left : L1_BURST_ACCESSES) - 1;
          cpu.accessL1(l1DataPage(L, l1Slot, gen.next()) * basePn, type);
        } else {
          if (hasMmio && r >= execT && r < mmioT) page = mmioBase + prng.nextBelow(L.l2MmioPages);
          else page = gen.next();
          cpu.access(page * basePn, type);
        }
      }
      if (n >= duties.next) {
        duties.run(n);
        // Duties (audits above all) can take far longer than 1,024 accesses: look at the clock and
        // the stop word after each batch, so neither a deadline nor a Ctrl-C waits for them.
        if ((timed && Date.now() >= deadlineMs) || Atomics.load(w, stopIdx) !== 0) {
          n++;
          break;
        }
      }
    }
    cpu.exit();
  } catch (e) {
    if (!(e instanceof ScheduleAbandoned)) {
      turnstile?.fail();
      setCurrentTurnstile(null);
      throw e;
    }
    abandoned = true;
  }
  // Stopped inside warm-up (deadline or Ctrl-C): nothing was measured; drop the warm-up's figures.
  const warmupDone = warmup !== Infinity && n >= warmup;
  if (!warmupDone) resetAfterWarmup(ctx, cpu);
  cpu.setClockActive(false);
  Atomics.sub(w, m.ctrl(CTRL.running), 1);
  // Wake an auditor waiting for this vCPU to park.
  Atomics.notify(w, m.ctrl(CTRL.auditParked));
  if (turnstile !== null) {
    if (!abandoned) turnstile.end();
    setCurrentTurnstile(null);
  }
  const histograms: Record<string, Float64Array> = { access: cpu.stats.access.data };
  FAULT_KIND_NAMES.forEach((k, i) => (histograms[k] = cpu.stats.byKind[i].data));
  STAGE_NAMES.forEach((k, i) => (histograms[k] = ctx.stages[i].data));
  if (ctx.cost.on) {
    FAULT_KIND_NAMES.forEach((k, i) => (histograms[`${MODELED_PREFIX}${k}`] = cpu.stats.mByKind[i].data));
    STAGE_NAMES.forEach((k, i) => (histograms[`${MODELED_PREFIX}${k}`] = ctx.mstages[i].data));
  }
  trace?.close();
  const measuredMs = warmupDone ? performance.now() - measuredFrom : 0;
  const modeledStartCyc = warmupDone ? modeledFrom : 0;
  const modeledEndCyc = warmupDone ? ctx.cyc : 0;
  return { vcpu: v, accesses: Math.max(0, n - warmup), measuredMs, warmupDone, histograms, modeledStartCyc, modeledEndCyc };
}

/**
 * L1's own accesses come in runs of this many: L1 runs its own code for a while between two
 * H_ENTER_NESTED calls (runs of 64 raised the rate of M5 races over runs of 16 in measurements).
 */
export const L1_BURST_ACCESSES = 64;

/**
 * The per-access threshold (of a 32-bit draw) for starting an L1 run, so that runs of
 * L1_BURST_ACCESSES make up a share `ratio` of all accesses: an access outside a run starts one
 * with probability q (else it is L2's), so (1 - q) / q L2 accesses separate two runs and
 * ratio = B / (B + (1 - q) / q), i.e. q = ratio / (ratio + B (1 - ratio)); 1 for ratio 1.
 */
export function l1BurstThreshold(ratio: number): number {
  if (ratio <= 0) return 0;
  const q = ratio / (ratio + L1_BURST_ACCESSES * (1 - ratio));
  return Math.min(2 ** 32 - 1, Math.round(q * 2 ** 32));
}

/** Zero this vCPU's statistics after warm-up (keeping the store count the auditor needs). */
function resetAfterWarmup(ctx: HvContext, cpu: Cpu): void {
  cpu.publish();
  const c = ctx.counters;
  const b = ctx.counterBase;
  const writes = c[b + COUNTER.writesCompleted];
  const viol = c[b + COUNTER.violations];
  c.fill(0, b, b + ctx.L.counterWords64);
  c[b + COUNTER.writesCompleted] = writes;
  c[b + COUNTER.violations] = viol;
  c[b + COUNTER.warmedUp] = 1;
  cpu.stats.access.reset();
  for (const h of cpu.stats.byKind) h.reset();
  for (const h of ctx.stages) h.reset();
  for (const h of cpu.stats.mByKind) h.reset();
  for (const h of ctx.mstages) h.reset();
}

