/**
 * The life of one simulated L2 vCPU: generate accesses, run them through the processor model,
 * run actor duties scheduled by work done (so a seeded 1-vCPU run is deterministic), and take
 * part in stop-the-world audits. A thread runs one vCPU or several (engine/vcpu-thread.ts), on a
 * worker (workers/vcpu.ts) or, for small runs (engine/vcpu-map.ts, `runsHere`) and tests, on the
 * calling thread.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../workload/types.js';
import { Prng } from '../workload/prng.js';
import { makeGenerator, type PageGenerator } from '../workload/generators.js';
import { TraceReader } from '../workload/trace-reader.js';
import type { VcpuResult, VcpuTask } from './vcpu-task.js';
import { CTRL } from '../memory/records.js';
import type { Machine } from '../memory/machine.js';
import { COUNTER } from '../stats/counters.js';
import type { HvContext } from '../hv/context.js';
import { FAULT_KIND_NAMES, STAGE_NAMES } from '../stats/kinds.js';
import { Cpu } from '../hw/cpu.js';
import { MODELED_PREFIX } from '../stats/results.js';

import { l1DataPage } from '../hv/l1-handler.js';
import { slotOfLpid } from '../hv/guests.js';
import { contextFor, controlledHook, guestOfVcpu } from './setup.js';
import { l1OfVcpu, paceMates } from './vcpu-map.js';
import { Duties } from './duties.js';
import { auditPoint } from './barrier.js';
import { ScheduleAbandoned, Turnstile, setCurrentTurnstile } from '../sync/turnstile.js';

export type { VcpuTask, VcpuResult } from './vcpu-task.js';

const CHECK_EVERY = 1024;

/** What `VcpuRunner.step` ended with. */
export const STEP = {
  /** Ran up to its bound (a modeled time or a number of accesses): more to run. */
  ran: 0,
  /** Could not enter its guest yet (L1 waits for an old incarnation to empty): try again later. */
  blocked: 1,
  /** Its run is over (`finish` gives its result). */
  done: 2,
} as const;

/**
 * One simulated L2 vCPU as a resumable loop: a thread runs one or several of them
 * (engine/vcpu-thread.ts). `step` runs it from an access boundary to another, where it holds
 * no lock and may be set aside (`park`) while the thread runs another vCPU.
 */
export class VcpuRunner {
  readonly v: number;
  readonly cpu: Cpu;
  readonly ctx: HvContext;
  readonly turnstile: Turnstile | null;
  /** Its run is over. */
  done = false;
  /** Inside `step` (a thread never resumes a vCPU that is already on its stack). */
  onStack = false;
  private readonly task: VcpuTask;
  readonly cfg: ResolvedConfig;
  private readonly m: Machine;
  private readonly prng: Prng;
  private readonly gen: PageGenerator;
  private readonly trace: TraceReader | null;
  private readonly duties: Duties;
  private readonly writeT: number;
  private readonly execT: number;
  private readonly mmioT: number;
  private readonly mmioBase: number;
  private readonly hasMmio: boolean;
  private readonly l1T: number;
  private readonly l1Slot: number;
  private l1Left = 0;
  private readonly timedWarmup: boolean;
  private warmup: number;
  private total: number;
  private readonly timed: boolean;
  private seenAudit = 0;
  private deadlineMs = Infinity;
  private warmupEndMs = Infinity;
  private measuredFrom = 0;
  private modeledFrom = 0;
  private n = 0;
  private entered = false;
  /** Blocked at its first entry, its clock out of the skew bound. */
  idle = false;
  /** A controlled schedule abandoned (deadlock, livelock) ended the run where it stood. */
  private abandoned = false;

  /** Build the vCPU (on the thread that runs it) and count it ready at the start gate. */
  constructor(task: VcpuTask, machine: Machine) {
    const cfg = (this.cfg = task.cfg);
    const v = (this.v = task.vcpu);
    this.task = task;
    // The vCPU's view of the machine: its L1's regions (and the shared ones).
    const m = (this.m = machine.forL1(l1OfVcpu(cfg, v)));
    // Under a controlled schedule, every named point of the fault path is a schedule point too.
    const turnstile = (this.turnstile = task.sched !== undefined ? new Turnstile(task.sched, v, m.w) : null);
    const ctx = (this.ctx = contextFor(m, cfg, v, v, turnstile !== null ? { hook: controlledHook(turnstile, cfg, v) } : undefined));
    if (turnstile !== null) turnstile.clock = ctx;
    const cpu = (this.cpu = new Cpu(ctx, guestOfVcpu(cfg, v)));
    // The skew bound skips the vCPUs of its own thread: the thread keeps their order itself.
    cpu.clock.setThreads(task.threadOf, paceMates(cfg, v));
    const prng = (this.prng = new Prng(cfg.seed, v + 1));
    const L = m.L;
    const pageBytes = 2 ** L.pageShift;
    const wsPages = Math.max(1, Math.min(L.guestPages - L.l2MmioPages, Math.floor(cfg.workload.workingSetBytes / pageBytes)));
    this.gen = makeGenerator(cfg.workload, wsPages, prng);
    this.trace = task.trace !== undefined ? new TraceReader(task.trace.file, task.trace.records, task.trace.start, cfg.workload.traceRepeat) : null;
    this.duties = new Duties(ctx, cpu, cfg, prng, wsPages);
    // Access-type thresholds on one 32-bit draw (a float draw costs two).
    const wl = cfg.workload;
    this.writeT = Math.round(wl.writeRatio * 2 ** 32);
    this.execT = Math.round((wl.writeRatio + wl.execRatio) * 2 ** 32);
    this.mmioT = Math.round((wl.writeRatio + wl.execRatio + wl.mmioRatio) * 2 ** 32);
    this.mmioBase = L.guestPages - L.l2MmioPages;
    this.hasMmio = this.mmioT > this.execT && L.l2MmioPages > 0;
    // L1's own accesses: runs of L1_BURST_ACCESSES, a share l1Ratio of all accesses, to the L1
    // pages behind the guest's working set (see l1BurstThreshold).
    this.l1T = l1BurstThreshold(wl.l1Ratio);
    this.l1Slot = slotOfLpid(guestOfVcpu(cfg, v));
    // Warm-up ends after `warmupAccesses` accesses, or, given as a duration, at the first check
    // past `warmupMs` (its end is then the access count reached: `warmup` is set there).
    this.timedWarmup = cfg.warmupMs > 0;
    this.warmup = this.timedWarmup ? Infinity : cfg.warmupAccesses;
    this.total = task.accesses > 0 && !this.timedWarmup ? task.accesses + this.warmup : Infinity;
    /** Duration mode: the run ends at `deadlineMs` (set when the start gate opens). */
    this.timed = task.accesses === 0;
    // Waiting to re-enter a destroyed guest must not hold up an audit (the auditor may be one of
    // the vCPUs the waiter waits for).
    cpu.onWait = () => {
      this.seenAudit = auditPoint(m, cpu, this.seenAudit);
    };
    cpu.setClockActive(true);
    Atomics.add(m.w, m.ctrl(CTRL.startReady), 1);
    Atomics.notify(m.w, m.ctrl(CTRL.startReady));
  }

  /** The start gate has opened: the measured run (and its deadline) starts here. */
  begin(): void {
    this.deadlineMs = Date.now() + this.task.durationMs;
    // Where this vCPU's figures start: here, or where its warm-up ends (its counters reset there).
    this.measuredFrom = performance.now();
    this.modeledFrom = this.ctx.cyc;
    if (this.turnstile !== null) {
      setCurrentTurnstile(this.turnstile);
      this.guard(() => this.turnstile!.begin());
    }
  }

  /** Run `fn`; a controlled schedule abandoned meanwhile ends this vCPU's run where it stands. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.caught(e);
    }
  }

  /** A controlled schedule abandoned ends the run (anything else is rethrown, the schedule failed). */
  private caught(e: unknown): void {
    if (!(e instanceof ScheduleAbandoned)) {
      this.turnstile?.fail();
      setCurrentTurnstile(null);
      throw e;
    }
    this.abandoned = true;
    this.done = true;
  }

  /** After STEP.blocked, alone on its thread: join audits, and wait a little (or for a turn). */
  waitToEnter(): void {
    this.cpu.onWait?.();
    const { turnstile, m } = this;
    this.guard(() => (turnstile !== null ? turnstile.yieldPoint() : Atomics.wait(m.w, m.ctrl(CTRL.stop), 0, 1)));
  }

  /** Set aside at an access boundary (out of guest mode, counts published) while another vCPU runs. */
  park(): void {
    this.cpu.park();
  }

  /** Taken up again after `park`. */
  unpark(): void {
    this.cpu.resume();
  }

  /**
   * Run accesses until this vCPU's modeled clock passes `untilCyc` or `maxAccesses` have run
   * (Infinity, Infinity: to the end of its run), or, while its clock is past `trailing` (the
   * lowest clock of the other vCPUs of its thread), until its next access would wait on the skew
   * bound: the trailing vCPU runs first. Returns a STEP code.
   */
  step(untilCyc: number, maxAccesses: number, trailing = Infinity): number {
    if (this.done) return STEP.done;
    const cpu = this.cpu;
    const ctx = this.ctx;
    try {
      if (!this.entered) {
        if (Atomics.load(this.m.w, this.m.ctrl(CTRL.stop)) !== 0) return this.end();
        if (!cpu.enter()) {
          // Idle while it waits (a destroyed guest's old incarnation still runs): it holds no
          // one back in modeled time, as a vCPU waiting to re-enter does (hw/l2-exit.ts).
          if (!this.idle) cpu.setClockActive(false);
          this.idle = true;
          return STEP.blocked;
        }
        if (this.idle) cpu.setClockActive(true);
        this.idle = false;
        this.entered = true;
        this.warmupEndMs = Date.now() + this.cfg.warmupMs;
      }
      const m = this.m;
      const w = m.w;
      const stopIdx = m.ctrl(CTRL.stop);
      const L = m.L;
      const basePn = L.basePn;
      const prng = this.prng;
      const gen = this.gen;
      const trace = this.trace;
      const duties = this.duties;
      const { writeT, execT, mmioT, mmioBase, hasMmio, l1T, l1Slot, timed } = this;
      const last = this.n + maxAccesses;
      // The loop's state in locals (the hit path reads them every access), written back below.
      let n = this.n;
      let total = this.total;
      let warmup = this.warmup;
      let l1Left = this.l1Left;
      const timedWarmup = this.timedWarmup;
      // One compare per access for the turn's bounds: the loop stops at `last` too, and the clock
      // is looked at closer only once it passes the lower of the two clock bounds.
      let end = Math.min(total, last);
      const gate = Math.min(untilCyc, trailing);
      /** The run ended early (stop word, deadline, the trace's end). */
      let stopped = false;
      try {
        for (; n < end; n++) {
          if (ctx.cyc > gate && (ctx.cyc > untilCyc || cpu.aheadOfBound())) return STEP.ran;
          if ((n & (CHECK_EVERY - 1)) === 0) {
            if (Atomics.load(w, stopIdx) !== 0) {
              stopped = true;
              break;
            }
            if (warmup === Infinity && Date.now() >= this.warmupEndMs) {
              warmup = n;
              if (this.task.accesses > 0) total = n + this.task.accesses;
              end = Math.min(total, last);
              this.startMeasuring();
            }
            // In duration mode the deadline bounds warm-up too (a warm-up longer than the run ends it).
            if (timed && Date.now() >= this.deadlineMs) {
              stopped = true;
              break;
            }
          }
          if ((n & 15) === 0) this.seenAudit = auditPoint(m, cpu, this.seenAudit);
          if (n === warmup && warmup > 0 && !timedWarmup) this.startMeasuring();
          if (trace !== null) {
            // A real program's access stream: page and type from the trace.
            const page = trace.next();
            if (trace.done) {
              stopped = true;
              break;
            }
            cpu.access(page * basePn, trace.type);
          } else {
            const r = prng.nextU32();
            // Branch-free type choice (`+(a < b)` is a flag set; a random 30% branch mispredicts
            // often enough to cost more than the rest of a TLB hit): ACCESS_STORE = 1, ACCESS_FETCH = 2.
            const type = +(r < writeT) | ((+(r >= writeT) & +(r < execT)) << 1);
            if (l1T > 0 && (l1Left > 0 || prng.nextU32() < l1T)) {
              l1Left = (l1Left > 0 ? l1Left : L1_BURST_ACCESSES) - 1;
              cpu.accessL1(l1DataPage(L, l1Slot, gen.next()) * basePn, type);
            } else {
              const page = hasMmio && r >= execT && r < mmioT ? mmioBase + prng.nextBelow(L.l2MmioPages) : gen.next();
              cpu.access(page * basePn, type);
            }
          }
          if (n >= duties.next) {
            duties.run(n);
            // Duties (audits above all) can take far longer than 1,024 accesses: look at the
            // clock and the stop word after each batch, so neither a deadline nor a Ctrl-C waits.
            if ((timed && Date.now() >= this.deadlineMs) || Atomics.load(w, stopIdx) !== 0) {
              n++;
              stopped = true;
              break;
            }
          }
        }
        if (!stopped && n < total) return STEP.ran; // its turn's accesses ran
      } finally {
        this.n = n;
        this.total = total;
        this.warmup = warmup;
        this.l1Left = l1Left;
      }
      cpu.exit();
    } catch (e) {
      this.caught(e);
    }
    return this.end();
  }

  /** The run is over (whether or not it entered its guest). */
  private end(): number {
    this.done = true;
    return STEP.done;
  }

  /** Zero the figures so far: the measured run starts here. */
  private startMeasuring(): void {
    resetAfterWarmup(this.ctx, this.cpu);
    this.measuredFrom = performance.now();
    this.modeledFrom = this.ctx.cyc;
  }

  /**
   * After `step` returned STEP.done: stop holding the others back and give the result. `leave`
   * (the thread's last vCPU) counts the thread out of audits, before a controlled schedule hands
   * the turn on: a vCPU auditing next must not wait for this thread to park.
   */
  finish(leave?: () => void): VcpuResult {
    const { ctx, cpu, turnstile } = this;
    const n = this.n;
    const warmup = this.warmup;
    // Stopped inside warm-up (deadline or Ctrl-C): nothing was measured; drop the warm-up's figures.
    const warmupDone = warmup !== Infinity && n >= warmup;
    if (!warmupDone) resetAfterWarmup(ctx, cpu);
    cpu.setClockActive(false);
    leave?.();
    if (turnstile !== null) {
      if (!this.abandoned) turnstile.end();
      setCurrentTurnstile(null);
    }
    const histograms: Record<string, Float64Array> = { access: cpu.stats.access.data };
    FAULT_KIND_NAMES.forEach((k, i) => (histograms[k] = cpu.stats.byKind[i].data));
    STAGE_NAMES.forEach((k, i) => (histograms[k] = ctx.stages[i].data));
    if (ctx.cost.on) {
      FAULT_KIND_NAMES.forEach((k, i) => (histograms[`${MODELED_PREFIX}${k}`] = cpu.stats.mByKind[i].data));
      STAGE_NAMES.forEach((k, i) => (histograms[`${MODELED_PREFIX}${k}`] = ctx.mstages[i].data));
    }
    this.trace?.close();
    const measuredMs = warmupDone ? performance.now() - this.measuredFrom : 0;
    const modeledStartCyc = warmupDone ? this.modeledFrom : 0;
    const modeledEndCyc = warmupDone ? ctx.cyc : 0;
    return { vcpu: this.v, accesses: Math.max(0, n - warmup), measuredMs, warmupDone, histograms, modeledStartCyc, modeledEndCyc };
  }
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

