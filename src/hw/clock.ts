/**
 * A vCPU's modeled clock in shared memory, and the skew bound that keeps the vCPUs' clocks
 * together (modeled time, docs/cost-model.md). The clock itself is the thread's `HvContext.cyc`;
 * this publishes it (VCPU_CTL.clock, in CLOCK_UNIT cycles modulo 2^32) for the other vCPUs'
 * checks.
 *
 * The bound is lax synchronisation with a bounded window, as the parallel simulators Graphite
 * (HPCA 2010) and ZSim (ISCA 2013) keep it: at an access boundary, holding no lock, a vCPU whose
 * clock leads the slowest running vCPU's by more than cost.skewCycles sleeps until it no longer
 * does. It sleeps out of guest mode (a shootdown does not wait for it) and joins audits. Idle
 * vCPUs (not started, finished, waiting to re-enter a destroyed guest) hold no one back.
 *
 * The bound holds among the vCPUs of one nested guest: every fault of each takes the guest's
 * tlb_lock for most of its handling, so who queues behind whom there is most of what their
 * modeled time says. vCPUs of different guests of one L1 meet only on its mmu_lock, whose holds
 * are short (a few per cent of a fault even at 16 vCPUs), and through the host's work on L1
 * memory. Without host actors their clocks run free of each other (a bound there cost a third
 * of the wall rate for a wait it barely changed; docs/cost-model.md, "Where nestsim
 * simplifies"); with them the whole L1 keeps pace (engine/vcpu-map.ts, `paceKey`). vCPUs of
 * different L1s share no lock with a modeled wait at all.
 */
import { availableParallelism } from 'node:os';
import { CLOCK_UNIT, CTRL, LINE_WORDS, VCPU_CTL } from '../memory/records.js';
import { COUNTER } from '../stats/counters.js';
import type { HvContext } from '../hv/context.js';
import { vcpuCtl } from './shootdown.js';

/** Longest sleep of a vCPU ahead of the skew bound before it looks again (ms; it is also woken). */
const SKEW_WAIT_MS = 2;
/**
 * How long (ms) a vCPU ahead of the bound keeps looking at the others' clocks before it sleeps,
 * when every vCPU thread has a processor of its own: the vCPU it waits for is running and
 * catches up within microseconds, sooner than a sleep and a wake-up take. 50 µs against the
 * earlier 200 looks (a few µs): fault-storm with 2 vCPUs in 2 guests, 1.08x the faults/s (3
 * interleaved pairs, 0.99-1.18x) with 5-15x fewer sleeps; tlb-hit unchanged (docs/cost-model.md).
 * With more vCPU threads than processors it sleeps at once: spinning would take the processor
 * from the vCPU it waits for.
 */
const SKEW_SPIN_MS = 0.05;

/** Wake every vCPU sleeping ahead of the bound (it looks at the clocks again): bump the epoch word `epochIdx`. */
function wakeSkewWaiters(w: Int32Array, epochIdx: number): void {
  Atomics.add(w, epochIdx, 1);
  Atomics.notify(w, epochIdx);
}

/** What the bound needs of the vCPU it holds back. */
export interface ClockHost {
  /** Leave guest mode for the wait; whether it was in guest mode. */
  pauseGuest(): boolean;
  unpauseGuest(): void;
  /** Join audits while waiting. */
  onWait: (() => void) | undefined;
}

export class VcpuClock {
  /**
   * Whether this vCPU keeps a shared clock: a cost model is on, a skew bound is set, and another
   * vCPU of its pace group runs on another thread (`setThreads`; the vCPUs of one thread keep
   * their order themselves, engine/vcpu-thread.ts).
   */
  on = false;
  /** A cost model and a bound are on, for a vCPU (not the coordinator). */
  private readonly bounded: boolean;
  private readonly w: Int32Array;
  private readonly clockIdx: number;
  private readonly activeIdx: number;
  private readonly epochIdx: number;
  private readonly waitersIdx: number;
  private readonly stopIdx: number;
  private readonly vcpus: number;
  /** The vCPUs this one keeps pace with: the others of its pace group on other threads (`setThreads`). */
  private mates: readonly number[] = [];
  /** SKEW_SPIN_MS when the vCPU threads fit the processors, else 0 (`setThreads`). */
  private spinMs = 0;

  constructor(private readonly ctx: HvContext) {
    const m = ctx.m;
    this.bounded = ctx.cost.on && ctx.cost.skewCycles > 0 && ctx.vcpu >= 0;
    this.w = m.w;
    this.clockIdx = vcpuCtl(m, Math.max(0, ctx.vcpu), VCPU_CTL.clock);
    this.activeIdx = vcpuCtl(m, Math.max(0, ctx.vcpu), VCPU_CTL.clockActive);
    this.epochIdx = m.ctrl(CTRL.skewEpoch);
    this.waitersIdx = m.ctrl(CTRL.skewWaiters);
    this.stopIdx = m.ctrl(CTRL.stop);
    this.vcpus = m.L.vcpus;
    this.setThreads(undefined, []);
  }

  /**
   * The threads the run's vCPUs are on (`threadOf[v]`; absent: one each), and the other vCPUs of
   * this one's pace group (engine/vcpu-map.ts, `paceMates`: its nested guest's, or its L1's):
   * it keeps pace with those of them on other threads. A vCPU alone in its group, or with all of
   * it on its thread, publishes nothing and never waits.
   */
  setThreads(threadOf: readonly number[] | undefined, mates: readonly number[]): void {
    // A thread keeps its own vCPUs' order itself.
    const of = threadOf ?? Array.from({ length: this.vcpus }, (_, v) => v);
    const mine = of[Math.max(0, this.ctx.vcpu)];
    this.mates = mates.filter((v) => of[v] !== mine);
    this.on = this.bounded && this.mates.length > 0;
    const threads = of.reduce((a, t) => Math.max(a, t + 1), 1);
    this.spinMs = threads <= availableParallelism() ? SKEW_SPIN_MS : 0;
  }

  /** Publish the clock (and wake vCPUs sleeping ahead of it). */
  publish(): void {
    const w = this.w;
    Atomics.store(w, this.clockIdx, (this.ctx.cyc / CLOCK_UNIT) | 0);
    if (Atomics.load(w, this.waitersIdx) !== 0) this.wake();
  }

  private wake(): void {
    wakeSkewWaiters(this.w, this.epochIdx);
  }

  /** Take part in the bound (true) or stop holding the others back (false). */
  setActive(on: boolean): void {
    if (!this.on) return;
    if (on) {
      // Rejoin at the slowest running vCPU's time at least: idle time passed for this vCPU too.
      const lead = this.lead();
      if (lead !== -Infinity && lead < 0) this.ctx.cyc -= lead;
      this.publish();
      Atomics.store(this.w, this.activeIdx, 1);
    } else {
      Atomics.store(this.w, this.activeIdx, 0);
      this.wake();
    }
  }

  /**
   * How far (cycles) this clock leads the slowest other running vCPU's of its pace group on
   * another thread (negative when it trails all of them), or -Infinity when none runs. Compared by
   * wrapping difference.
   */
  lead(): number {
    const w = this.w;
    const own = (this.ctx.cyc / CLOCK_UNIT) | 0;
    const me = this.ctx.vcpu;
    const mates = this.mates;
    let lead = -Infinity;
    for (let k = 0; k < mates.length; k++) {
      const v = mates[k];
      const base = this.clockIdx + (v - me) * LINE_WORDS;
      if (Atomics.load(w, base + (VCPU_CTL.clockActive - VCPU_CTL.clock)) === 0) continue;
      const d = (own - Atomics.load(w, base)) | 0;
      if (d > lead) lead = d;
    }
    return lead === -Infinity ? lead : lead * CLOCK_UNIT;
  }

  /**
   * The check at an access boundary: publish, and sleep while more than cost.skewCycles ahead.
   * Returns the clock at which to look next (the others' clocks only grow, so a bound computed
   * now stays safe until then).
   */
  point(host: ClockHost): number {
    const ctx = this.ctx;
    const w = this.w;
    const skew = ctx.cost.skewCycles;
    this.publish();
    let lead = this.lead();
    const b = ctx.counterBase;
    if (lead > ctx.counters[b + COUNTER.skewMaxCycles]) ctx.counters[b + COUNTER.skewMaxCycles] = lead;
    if (lead > skew && this.spinMs > 0) {
      const until = performance.now() + this.spinMs;
      for (let k = 1; lead > skew; k++) {
        lead = this.lead();
        if ((k & 63) === 0 && performance.now() > until) break;
      }
    }
    if (lead > skew) {
      ctx.counters[b + COUNTER.skewWaits]++;
      const wasIn = host.pauseGuest();
      Atomics.add(w, this.waitersIdx, 1);
      while (Atomics.load(w, this.stopIdx) === 0) {
        const seen = Atomics.load(w, this.epochIdx);
        lead = this.lead();
        if (lead <= skew) break;
        Atomics.wait(w, this.epochIdx, seen, SKEW_WAIT_MS);
        // An audit parks and resumes the vCPU, back into guest mode: leave it again, or a
        // shootdown would wait for this sleeper to pass an access boundary.
        host.onWait?.();
        host.pauseGuest();
      }
      Atomics.sub(w, this.waitersIdx, 1);
      if (wasIn) host.unpauseGuest();
    }
    return ctx.cyc + skew - (lead === -Infinity || lead < 0 ? 0 : lead);
  }
}

/**
 * Sleep `ms` of wall time outside modeled time: a deliberate pause (stress.pause widening a race
 * window) is no modeled work, and the vCPU must not hold the others back meanwhile, or the skew
 * bound would stop the very vCPUs whose race the pause waits for. The vCPU keeps its clock; the
 * others wait for it to catch up afterwards, as for any vCPU behind them.
 */
export function pauseOutsideModeledTime(ctx: HvContext, cell: Int32Array, ms: number): void {
  const idx = ctx.cost.on && ctx.vcpu >= 0 ? vcpuCtl(ctx.m, ctx.vcpu, VCPU_CTL.clockActive) : -1;
  const was = idx >= 0 && Atomics.exchange(ctx.w, idx, 0) === 1;
  if (was) wakeSkewWaiters(ctx.w, ctx.m.ctrl(CTRL.skewEpoch));
  Atomics.wait(cell, 0, 0, ms);
  if (was) Atomics.store(ctx.w, idx, 1);
}
