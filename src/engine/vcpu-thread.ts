/**
 * A vCPU thread: runs one simulated vCPU, or several in modeled-time order.
 *
 * With more vCPUs than host processors, one thread per vCPU leaves the operating system to
 * choose who runs: a thread descheduled while it holds mmu_lock stalls every waiter (lock-holder
 * preemption), and under a cost model the skew bound stalls every vCPU whose clock is ahead of a
 * descheduled one. The run then crawls (docs/performance.md). So a run gives each thread several
 * vCPUs (`threads`; engine/vcpu-map.ts places them) and the thread switches between them at
 * access boundaries, where a vCPU holds no lock, as the parallel simulator ZSim (ISCA 2013) runs
 * many simulated cores on each host thread:
 *
 * - under a cost model it runs the vCPU whose modeled clock is lowest until it leads the next
 *   lowest by `quantum` cycles (the threads' clocks stay together through the skew bound, which
 *   therefore looks only at other threads' vCPUs), or for MUX_ACCESSES accesses when no two of
 *   its vCPUs are in one nested guest and none keeps pace with another thread (`muxQuantum`),
 *   FREE_TURN_ACCESSES when their clocks are free of each other;
 * - without one, it takes them in turn, MUX_ACCESSES accesses each.
 *
 * A vCPU set aside is out of guest mode with its counts published, so a shootdown never waits
 * for it and an audit finds it quiescent; the thread counts once in an audit (CTRL.running
 * counts threads). A vCPU that must wait for another of its thread (L1 re-entering a guest whose
 * old incarnation a set-aside vCPU still runs) runs the others from inside its wait.
 */
import { CTRL } from '../memory/records.js';
import { attachMachine, type Machine } from '../memory/machine.js';
import { STEP, VcpuRunner, type VcpuResult, type VcpuTask } from './vcpu-loop.js';
import { guestKey, paceKey } from './vcpu-map.js';

/** Accesses a vCPU runs before its thread looks at the others (a bound on one turn either way). */
const MUX_ACCESSES = 256;

/**
 * The bound on a turn under a cost model where the thread's vCPUs are each in a pace group of
 * their own (engine/vcpu-map.ts, `paceKey`) and none keeps pace with another thread: their
 * clocks are free of each other, so a turn carries no modeled order (fault-storm, 4 vCPUs on one
 * thread, 20,000 accesses: the same counts, modeled faults/s 1,378,826.2 against 1,378,816.3 with
 * turns of 256), and a long one keeps one guest's tables in the cache. Measured against 256,
 * fault-storm with a guest per vCPU on 2 threads, interleaved pairs: 4 vCPUs 1.07x (0.93x-1.27x,
 * 6 pairs), 16 vCPUs 1.08x (1.01x-1.10x, 4 pairs); without a cost model no gain (1.01x), so
 * those keep MUX_ACCESSES.
 */
const FREE_TURN_ACCESSES = 2048;

/** Run `tasks` (vCPUs of one thread) to completion on this thread; results in task order. */
export function runVcpus(tasks: readonly VcpuTask[], machine?: Machine): VcpuResult[] {
  const m = machine ?? attachMachine(tasks[0].sab, tasks[0].layout);
  const w = m.w;
  const stopIdx = m.ctrl(CTRL.stop);
  // Counted in before it counts ready at the start gate: an audit started once the gate opens
  // must wait for this thread to park.
  Atomics.add(w, m.ctrl(CTRL.running), 1);
  let counted = true;
  const leave = (): void => {
    if (!counted) return;
    counted = false;
    Atomics.sub(w, m.ctrl(CTRL.running), 1);
    // Wake an auditor waiting for this thread to park.
    Atomics.notify(w, m.ctrl(CTRL.auditParked));
  };
  const results: VcpuResult[] = [];
  try {
    const runners = tasks.map((t) => new VcpuRunner(t, m));
    // The start gate: every vCPU built before any runs, so the measured run (and its deadline)
    // does not include the other threads' start-up (on a few cores, 16 workers loading the
    // simulator take seconds). The coordinator opens it; Ctrl-C before that ends the run.
    const goIdx = m.ctrl(CTRL.startGo);
    while (Atomics.load(w, goIdx) === 0 && Atomics.load(w, stopIdx) === 0) Atomics.wait(w, goIdx, 0, 50);
    for (const r of runners) r.begin();
    if (runners.length === 1) {
      const r = runners[0];
      while (r.step(Infinity, Infinity) !== STEP.done) r.waitToEnter();
      results.push(r.finish(leave));
    } else {
      const done = new Multiplexer(runners, stopIdx, w, leave).run();
      for (const r of runners) results.push(done.get(r)!);
    }
  } finally {
    leave();
  }
  return results;
}

/** Several vCPUs on one thread. */
class Multiplexer {
  private readonly results = new Map<VcpuRunner, VcpuResult>();
  /** Could not enter their guest at their last turn (retried after a pause or another's progress). */
  private readonly blocked = new Set<VcpuRunner>();
  private readonly costOn: boolean;
  /** Cycles a vCPU may lead the next one of its thread before the thread switches. */
  private readonly quantum: number;
  /** Accesses in one turn (MUX_ACCESSES, or FREE_TURN_ACCESSES where turns carry no modeled order). */
  private readonly turnAccesses: number;
  private turn = 0;

  constructor(
    private readonly runners: readonly VcpuRunner[],
    private readonly stopIdx: number,
    private readonly w: Int32Array,
    /** Counts the thread out of audits (called by the last vCPU to finish). */
    private readonly leave: () => void,
  ) {
    const cost = runners[0].ctx.cost;
    this.costOn = cost.on;
    const paced = runners.some((r) => r.cpu.clock.on);
    this.quantum = muxQuantum(
      cost.skewCycles,
      runners.map((r) => guestKey(r.cfg, r.v)),
      paced,
    );
    const freeClocks = cost.on && !paced && new Set(runners.map((r) => paceKey(r.cfg, r.v))).size === runners.length;
    this.turnAccesses = freeClocks ? FREE_TURN_ACCESSES : MUX_ACCESSES;
    for (const r of runners) {
      r.park();
      r.cpu.runOther = () => this.runOne();
    }
  }

  run(): Map<VcpuRunner, VcpuResult> {
    while (this.results.size < this.runners.length) {
      if (this.runOne() || this.pick() !== null) continue;
      // Every vCPU left is waiting to enter its guest: join audits and look again shortly.
      const r = this.runners.find((x) => !x.done)!;
      r.cpu.onWait?.();
      r.park();
      Atomics.wait(this.w, this.stopIdx, 0, 1);
      this.blocked.clear();
    }
    return this.results;
  }

  /**
   * Give one vCPU a turn; false when none could run. Also called from inside the wait of a vCPU
   * on this thread's stack (that one, and any below it, are not taken).
   */
  private runOne(): boolean {
    const r = this.pick();
    if (r === null) return false;
    const next = this.costOn ? this.nextClock(r) : Infinity;
    r.onStack = true;
    r.unpark();
    let s: number;
    try {
      s = r.step(next + this.quantum, this.turnAccesses, next);
    } finally {
      r.onStack = false;
    }
    if (s === STEP.done) {
      this.results.set(r, r.finish(this.results.size === this.runners.length - 1 ? this.leave : undefined));
      this.blocked.clear();
    } else {
      r.park();
      if (s === STEP.blocked) this.blocked.add(r);
      else if (this.blocked.size > 0) this.blocked.clear();
    }
    // A blocked turn is no progress: the caller sleeps before it looks again.
    return s !== STEP.blocked;
  }

  /** The next vCPU to run: the lowest modeled clock, or the next in turn without a cost model. */
  private pick(): VcpuRunner | null {
    const rs = this.runners;
    const anyBlocked = this.blocked.size > 0;
    let best: VcpuRunner | null = null;
    for (let k = 0; k < rs.length; k++) {
      const r = rs[this.costOn ? k : (this.turn + k) % rs.length];
      if (r.done || r.onStack || (anyBlocked && this.blocked.has(r))) continue;
      if (!this.costOn) {
        this.turn = (this.turn + k + 1) % rs.length;
        return r;
      }
      if (best === null || r.ctx.cyc < best.ctx.cyc) best = r;
    }
    return best;
  }

  /** The lowest clock among the vCPUs that could run after `r` (Infinity: none); one waiting to enter its guest has no say. */
  private nextClock(r: VcpuRunner): number {
    let lo = Infinity;
    for (const x of this.runners) if (x !== r && !x.done && !x.onStack && !x.idle && x.ctx.cyc < lo) lo = x.ctx.cyc;
    return lo;
  }
}

/**
 * The switch quantum of a thread running vCPUs of the nested guests `guests` (one key per vCPU:
 * its L1 and guest slot), `paced` when one of them keeps pace with a vCPU of another thread (the
 * skew bound, hw/clock.ts): half the skew bound (or 5,000 cycles without one) when two of them
 * are in one nested guest, whose tlb_lock serialises their faults: who queues behind whom there
 * is decided by their order in modeled time. Otherwise their turns are unbounded in cycles
 * (MUX_ACCESSES accesses each): vCPUs of different L1s share no lock with a modeled wait, and
 * vCPUs of different guests of one L1 meet only on its mmu_lock, whose modeled queueing between
 * them is not kept (docs/cost-model.md, "Where nestsim simplifies"). A turn of half the default
 * bound is shorter than a fault, and switching at every fault cost a third of the wall rate
 * (docs/performance.md, "One thread per L1"). A thread paced by another
 * keeps the short turns: its own spread would eat the bound's slack.
 */
export function muxQuantum(skewCycles: number, guests: readonly string[], paced: boolean): number {
  if (!paced && new Set(guests).size === guests.length) return Infinity;
  return skewCycles > 0 ? skewCycles / 2 : 5000;
}
