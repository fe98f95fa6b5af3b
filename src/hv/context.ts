/**
 * Per-thread hypervisor context (what the kernel reaches through `kvm` and the running CPU): the
 * machine views, this thread's counters, the protocol profile (mutations and fixes as bit masks,
 * resolved once), the lock helpers that count, the violation reporter, and the
 * broadcast-invalidation hook supplied by the simulated processor (hw/shootdown.ts), which hv code
 * must not import. It holds no per-fault scratch: what a fault fills in travels in a FaultScratch
 * (hv/scratch.ts) passed down the fault path.
 */
import type { Machine } from '../memory/machine.js';
import type { Layout } from '../memory/layout.js';
import { L1CTRL, LOCK, TLB_LOCK_HOLDS } from '../memory/records.js';
import { ViolationReporter } from '../invariants/violations.js';
import { geometryFor, type Geometry } from '../mmu/geometry.js';
import type { PointName } from '../sync/schedule-layout.js';
import { HOLDS_COUNT_WORD, HOLDS_F64, LATEST_RELEASE_F64, MMU_LOCK_HOLDS, countHold, fitHold, queueBehind, rememberHold } from './lock-time.js';
import { CONTENDED_UNTIMED, lockWord, unlockWord, MMU_LOCK_SPINS, MUTEX_SPINS } from '../sync/lock.js';
import { COUNTER } from '../stats/counters.js';
import { MUTATIONS, type Fix, type Mutation, type RcMode } from '../workload/types.js';
import { numericDefault } from '../workload/keys.js';
import { Histogram } from '../stats/histogram.js';
import { STAGE, STAGE_NAMES } from '../stats/kinds.js';
import { COST, COST_CAT, CostTables, type CostConfig } from '../cost/model.js';
import { COUNTER_COUNT, MC_BASE } from '../stats/counters.js';

/** Of the faults timed (`stats.faultSample`), one in this many also times its stages (each stage costs a timer call). */
export const STAGE_SAMPLE_EVERY = 8;

/** Mutation bits: bit i = MUTATIONS[i]. */
export const MUT = Object.freeze(
  Object.fromEntries(MUTATIONS.map((name, i) => [name, 1 << i])) as Record<Mutation, number>,
);
export const FIX = Object.freeze({ p1: 1, p2: 2, p3: 4, p4: 8, p5: 16, p6: 32 } as Record<Fix, number>);
export const FIX_ALL = 31;

/**
 * L0's lpid for L1 0, which tags the TLB entries of L1's own accesses. Shadow lpids (guests.ts)
 * start at 2 and stay below L1_LPID_BASE, so no two collide.
 */
export const L1_LPID = 1;
/** L0's lpid for L1 k > 0 is L1_LPID_BASE + k (above every shadow lpid). */
export const L1_LPID_BASE = 2_000_000;

/** L0's lpid for L1 `k` (kvm->arch.lpid of that L1). */
export function lpidOfL1(k: number): number {
  return k === 0 ? L1_LPID : L1_LPID_BASE + k;
}

/** Broadcast TLB invalidation of (lpid, 4 KiB page number, page shift); shift 0 = whole lpid. */
export type Shootdown = (ctx: HvContext, lpid: number, pn: number, shift: number) => void;
/**
 * Flag the TLB entries of (lpid, [pn, pn + 2^shift)) that window P1's tlbie (which names another
 * lpid) left in place, so their later effects count as the window's (invariants/windows.ts).
 */
export type StaleMarker = (ctx: HvContext, lpid: number, pn: number, shift: number) => void;

export interface ContextOptions {
  vcpu: number; // -1 for the coordinator / a test thread
  worker: number; // counter block index
  mutations?: readonly Mutation[];
  fixes?: readonly Fix[];
  rc?: RcMode;
  /** Time one fault in N for the latency histograms (power of two; default: the `stats.faultSample` key's). */
  faultSample?: number;
  /** Time one access in N for the access-latency histogram (power of two; default: the `stats.accessSample` key's). */
  accessSample?: number;
  /** R/C in L0's table for L1 on L1's own accesses (`hardware.l1Rc`). */
  l1Rc?: RcMode;
  shootdown?: Shootdown;
  /** Supplied by the simulated processor with `shootdown` (hw/shootdown.ts). */
  markP1Survivors?: StaleMarker;
  /** Optional hook called at named points of the fault path (tests force interleavings). */
  hook?: (point: HookPoint, ctx: HvContext) => void;
  /**
   * Spins before an mmu_lock waiter sleeps (default MMU_LOCK_SPINS). With more vCPU threads than
   * processors the holder is often not running: spinning then only takes the processor from it.
   */
  mmuSpins?: number;
  /** The cost model (`cost` of the config); absent or `none`: no modeled clock. */
  cost?: CostConfig;
}


/** One contended lock acquisition in this many is timed (see `HvContext.noteWait`). */
export const LOCK_WAIT_SAMPLE = 4;

/**
 * Named points where tests and `stress.pause` may inject a pause and a controlled schedule may
 * switch threads (sync/schedule-layout.ts lists them all). 'nonatomic-rmw' lies between
 * the read and the write of a PTE update that a mutation (M5, M6) made non-atomic: it exists
 * only in mutated code. 'hw-rc-update' lies in the hardware's lockless R/C update of a leaf of
 * L0's table for L1 (hw/l1-direct.ts), between its read of the leaf and the CAS that sets C.
 */
export type HookPoint = PointName;

export class HvContext {
  readonly m: Machine;
  readonly w: Int32Array;
  readonly L: Layout;
  readonly g: Geometry;
  readonly counters: Float64Array;
  readonly counterBase: number;
  readonly vcpu: number;
  readonly worker: number;
  /** L0's lpid for the L1 this context acts in (`m.l1`). */
  readonly l1Lpid: number;
  readonly mut: number;
  readonly fix: number;
  readonly rcAuto: boolean;
  /** faultSample - 1: a fault is timed when its ordinal & this mask is 0. */
  readonly faultSampleMask: number;
  /** accessSample - 1. */
  readonly accessSampleMask: number;
  /** Hardware sets R/C in L0's table for L1 on L1's own accesses (`hardware.l1Rc: auto`). */
  readonly l1RcAuto: boolean;
  /** Spins before an mmu_lock waiter sleeps (ContextOptions.mmuSpins). */
  readonly mmuSpins: number;
  shootdown: Shootdown;
  readonly markP1Survivors: StaleMarker;
  /**
   * Set by this thread's Cpu: called when a broadcast invalidation issued on this thread dropped
   * entries of this thread's own TLB (the Cpu keeps a private tag mirror and must resync it).
   */
  ownTlbDropped: (() => void) | undefined = undefined;
  readonly hook: ((point: HookPoint, ctx: HvContext) => void) | undefined;
  /** Contended, untimed acquisitions since the last timed one, per lock (0 mmu_lock, 1 tlb_lock). */
  private readonly untimed = new Int32Array(2);
  /** Stage and lock-wait histograms of this thread (merged by the coordinator). */
  readonly stages: Histogram[] = STAGE_NAMES.map(() => new Histogram());
  /** Whether the fault in progress times its stages (set by the caller, sampled). */
  sampleStages = false;
  /** Whether the fault in progress records its modeled stages (set by the caller, one in MODELED_STAGE_SAMPLE). */
  sampleModeledStages = false;
  /** This thread's mmu_lock acquisition count at its last 'nonatomic-rmw' hook (hv/pte-update.ts). */
  rmwHookHold = -1;
  /** Where this thread reports a broken invariant (the shared violation ring). */
  readonly report: ViolationReporter;
  /** The cost model's charge tables (cost/model.ts). */
  readonly cost: CostTables;
  /**
   * This thread's modeled clock (cycles of the modeled core): every event it performs adds its
   * cost here, and a modeled lock wait moves it to the lock's modeled release time.
   */
  cyc = 0;
  /** Modeled acquisition times of the mmu_lock and tlb_lock this thread holds. */
  private mmuAcquired = 0;
  private tlbAcquired = 0;
  /** cost.lockCycles (0 without a cost model), charged by every modeled acquisition. */
  private readonly lockCycles: number;
  /**
   * Whether modeled time queues on this L1's locks (mmu_lock and its guests' tlb_locks): a cost
   * model is on and two of the L1's vCPUs share a nested guest (more vCPUs than guests). A guest's
   * tlb_lock is taken only by its own vCPUs and by L1's actors on their behalf, on their clocks; so
   * with a guest per vCPU each tlb_lock has one clock. Between vCPUs of different guests, whose
   * clocks run free of each other or take whole turns of a thread, mmu_lock's remembered holds are
   * another clock's and queue nothing that means anything. Either way each hold is charged its
   * cost and queues behind none (docs/cost-model.md, "Where nestsim simplifies"): mmu_lock's
   * bookkeeping in its line alone cost 20% of fault-storm's wall rate at 2 vCPUs on two threads.
   */
  private readonly locksTimed: boolean;
  /** Modeled stage histograms (modeled ns; same stages as `stages`): a fault's stages when `sampleModeledStages`, every modeled lock wait. */
  readonly mstages: Histogram[] = STAGE_NAMES.map(() => new Histogram());

  /** The options this context was built with (for its siblings in other L1s, `forL1`). */
  private readonly opts: ContextOptions;
  /** Its siblings by L1 (`forL1`), this one included. */
  private siblings: HvContext[] | undefined;

  constructor(m: Machine, o: ContextOptions) {
    this.opts = o;
    this.m = m;
    this.w = m.w;
    this.L = m.L;
    this.g = geometryFor(m.L.pageShift);
    this.vcpu = o.vcpu;
    this.worker = o.worker;
    this.l1Lpid = lpidOfL1(m.l1);
    this.counters = m.f64;
    this.counterBase = m.counterIndex(o.worker, 0);
    let mut = 0;
    for (const n of o.mutations ?? []) mut |= MUT[n];
    this.mut = mut;
    let fix = 0;
    for (const f of o.fixes ?? []) fix |= FIX[f];
    this.fix = fix;
    this.rcAuto = o.rc === 'auto';
    this.faultSampleMask = (o.faultSample ?? numericDefault('stats.faultSample')) - 1;
    this.accessSampleMask = (o.accessSample ?? numericDefault('stats.accessSample')) - 1;
    this.l1RcAuto = o.l1Rc === 'auto';
    this.mmuSpins = o.mmuSpins ?? MMU_LOCK_SPINS;
    this.shootdown = o.shootdown ?? noShootdown;
    this.markP1Survivors = o.markP1Survivors ?? noShootdown;
    this.report = new ViolationReporter(m, o.vcpu, this.counters, this.counterBase);
    this.hook = o.hook;
    this.cost = new CostTables(o.cost, COUNTER_COUNT);
    this.lockCycles = this.cost.item[COST.lockCycles];
    const l1Vcpus = Math.floor((m.L.vcpus - 1 - m.l1) / m.L.l1Count) + 1;
    this.locksTimed = this.cost.on && l1Vcpus > m.L.guestCount;
  }

  /**
   * The same thread's context in L1 `k` (same counters, same protocol profile, that L1's machine
   * view), for work that crosses L1s: the auditor checks every L1 through these. Built once.
   */
  forL1(k: number): HvContext {
    if (k === this.m.l1) return this;
    const s = (this.siblings ??= []);
    s[this.m.l1] = this;
    let c = s[k];
    if (c === undefined) {
      c = new HvContext(this.m.forL1(k), this.opts);
      c.siblings = s;
      s[k] = c;
    }
    return c;
  }

  has(mutationBit: number): boolean {
    return (this.mut & mutationBit) !== 0;
  }

  fixed(fixBit: number): boolean {
    return (this.fix & fixBit) !== 0;
  }

  /**
   * Add to one of this thread's counters (plain add: each worker owns its block). A counter that
   * stands for a costed event (COUNTER_CHARGES) also charges its cycles to the modeled clock.
   */
  count(c: number, n = 1): void {
    this.counters[this.counterBase + c] += n;
    const k = this.cost.byCounter[c];
    if (k !== 0) this.charge(this.cost.counterCat[c], k * n);
  }

  /** Charge `cycles` of cost category `cat` (COST_CAT) to this thread's modeled clock. */
  charge(cat: number, cycles: number): void {
    this.cyc += cycles;
    this.counters[this.counterBase + MC_BASE + cat] += cycles;
  }

  /** Charge cost item `item` (COST index) `n` times. */
  chargeItem(item: number, cat: number, n = 1): void {
    const k = this.cost.item[item] * n;
    if (k !== 0) this.charge(cat, k);
  }

  /** Record a modeled stage of `cycles` (modeled ns in `mstages`). */
  modeledStage(k: number, cycles: number): void {
    this.mstages[k].record(cycles / this.cost.cpuGHz);
  }

  /**
   * Modeled time of an acquisition of the lock at word `li`, which this thread now holds: charge
   * the acquire, and where the lock's modeled queueing is kept (`timed`), queue behind the
   * remembered holds its arrival overlaps (hv/lock-time.ts). Returns the modeled acquisition time.
   */
  private acquiredAt(timed: boolean, li: number, holds: number, cap: number, waitCounter: number, stage: number): number {
    const arrive = this.cyc;
    this.charge(COST_CAT.lock, this.lockCycles);
    // Fast path: no one else takes it, or the arrival is at or after every remembered hold's end.
    if (!timed || arrive >= this.m.f64[(li >>> 1) + LATEST_RELEASE_F64]) return arrive;
    return queueBehind(this, this.w, this.m.f64, li, holds, cap, waitCounter, stage, arrive);
  }

  /** Float64 index of nested guest slot `slot`'s tlb_lock holds (layout `tlbHoldsWord`). */
  private tlbHolds(slot: number): number {
    return (this.L.tlbHoldsWord >>> 1) + slot * TLB_LOCK_HOLDS * 2;
  }

  /** Take kvm->mmu_lock. */
  mmuLock(): void {
    const li = this.m.lockIndex(LOCK.mmu);
    const waited = lockWord(this.w, li, this.mmuSpins, this.untimed[0] >= LOCK_WAIT_SAMPLE - 1);
    this.counters[this.counterBase + COUNTER.mmuLockAcq]++;
    if (waited !== 0) this.noteWait(0, COUNTER.mmuLockContended, STAGE.mmuLockWait, waited);
    if (this.cost.on) this.mmuAcquired = this.acquiredAt(this.locksTimed, li, (li >>> 1) + HOLDS_F64, MMU_LOCK_HOLDS, COUNTER.mmuLockModeledWait, STAGE.mmuLockWait);
  }

  mmuUnlock(): void {
    const li = this.m.lockIndex(LOCK.mmu);
    const w = this.w;
    if (this.locksTimed) {
      const holds = (li >>> 1) + HOLDS_F64;
      const at = this.fitted(li, holds, MMU_LOCK_HOLDS, COUNTER.mmuLockModeledWait, STAGE.mmuLockWait, this.mmuAcquired);
      const k = w[li + HOLDS_COUNT_WORD];
      rememberHold(w, this.m.f64, li, k, holds + 2 * ((k >>> 0) % MMU_LOCK_HOLDS), at, this.cyc);
    } else countHold(w, li);
    unlockWord(w, li);
  }

  /**
   * The modeled acquisition time of the hold being released, acquired at `acquired`: moved past
   * the remembered holds it would overlap when it began before the latest of them ended
   * (hv/lock-time.ts, `fitHold`).
   */
  private fitted(li: number, holds: number, cap: number, waitCounter: number, stage: number, acquired: number): number {
    if (acquired >= this.m.f64[(li >>> 1) + LATEST_RELEASE_F64]) return acquired;
    return fitHold(this, this.w, this.m.f64, li, holds, cap, waitCounter, stage, acquired, this.cyc);
  }

  /** Take nested guest slot g's tlb_lock (a sleeping mutex). */
  tlbLock(slot: number): void {
    const li = this.m.tlbLockIndex(slot);
    const waited = lockWord(this.w, li, MUTEX_SPINS, this.untimed[1] >= LOCK_WAIT_SAMPLE - 1);
    this.counters[this.counterBase + COUNTER.tlbLockAcq]++;
    if (waited !== 0) this.noteWait(1, COUNTER.tlbLockContended, STAGE.tlbLockWait, waited);
    if (this.cost.on) this.tlbAcquired = this.acquiredAt(this.locksTimed, li, this.tlbHolds(slot), TLB_LOCK_HOLDS, COUNTER.tlbLockModeledWait, STAGE.tlbLockWait);
  }

  /**
   * Count a contended acquisition of lock `k` (0 mmu_lock, 1 tlb_lock). One wait in
   * LOCK_WAIT_SAMPLE is timed; it stands for itself and the untimed waits since the previous
   * timed one in the wait total (`<lock>WaitNs`, the counter after `contended`), and is recorded once
   * in the wait histogram.
   */
  private noteWait(k: number, contended: number, stage: number, waited: number): void {
    const c = this.counters;
    const b = this.counterBase;
    c[b + contended]++;
    if (waited === CONTENDED_UNTIMED) {
      this.untimed[k]++;
      return;
    }
    c[b + contended + 1] += waited * (this.untimed[k] + 1);
    this.untimed[k] = 0;
    this.stages[stage].record(waited);
  }

  tlbUnlock(slot: number): void {
    const li = this.m.tlbLockIndex(slot);
    const w = this.w;
    if (this.locksTimed) {
      const holds = this.tlbHolds(slot);
      const at = this.fitted(li, holds, TLB_LOCK_HOLDS, COUNTER.tlbLockModeledWait, STAGE.tlbLockWait, this.tlbAcquired);
      const k = w[li + HOLDS_COUNT_WORD];
      rememberHold(w, this.m.f64, li, k, holds + 2 * (k & (TLB_LOCK_HOLDS - 1)), at, this.cyc);
    } else countHold(w, li);
    unlockWord(w, li);
  }

  // ---- mmu_invalidate_seq (§1.5) ---------------------------------------------------------

  /** Read `mmu_invalidate_seq` (an atomic load is also the read barrier). */
  readSeq(): number {
    return Atomics.load(this.w, this.m.l1ctrl(L1CTRL.mmuSeq));
  }

  /**
   * kernel mmu_invalidate_retry: true when an invalidation is in progress or has completed since
   * `seq`. Lock: mmu_lock. Plain reads: every change of `seq` and `in_progress` is made under
   * mmu_lock (notifier.ts), so no other thread writes them while the caller holds it.
   */
  retrySeq(seq: number): boolean {
    const w = this.w;
    if (w[this.m.l1ctrl(L1CTRL.mmuInProgress)] !== 0) return true;
    return w[this.m.l1ctrl(L1CTRL.mmuSeq)] !== seq;
  }
}

function noShootdown(): void {}
