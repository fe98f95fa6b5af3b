/**
 * One simulated vCPU on its worker thread: an L1 vCPU that runs its nested guest (L2) through
 * H_ENTER_NESTED and also touches L1's own memory. It owns the access pipeline of the processor
 * (hw/tlb.ts for the TLB, hw/walker.ts for the hardware walk) in two translation regimes, L2's
 * and L1's (hw/l1-direct.ts), and the exits they cause (hw/l2-exit.ts): into L0's nested fault handler on this
 * thread and, on a reflection, into L1's handler (an L1 vCPU runs its nested guest, so L1's
 * handler runs on the same thread), then back into L2.
 *
 * Fast path (`access`, `accessL1`): a probe of the TLB's private tag mirror and one mask compare,
 * with no atomic operation for a load; a store adds the frame-generation check (I5), L1's grant
 * (I2/I3, L2 stores only) and an atomic add of the write. Every QUIESCE_EVERY accesses, one
 * atomic add marks a quiescence point. Misses go to the walker. Both regimes count and sample
 * through the same per-vCPU counters and histograms. Nothing allocates per access.
 */
import { performance } from 'node:perf_hooks';
import { CLOCK_UNIT, VCPU_CTL, VSTATE_IN_GUEST, VSTATE_QUIESCE } from '../memory/records.js';
import { VcpuClock } from './clock.js';
import { COST, COST_CAT } from '../cost/model.js';
import { PTE_RPN_MASK } from '../mmu/pte.js';
import { GRANT_BITS, grantBase, reportUngrantedStore } from '../invariants/grants.js';
import { COUNTER } from '../stats/counters.js';
import { MODELED_STAGE_SAMPLE } from '../stats/kinds.js';
import { MUT, STAGE_SAMPLE_EVERY, type HvContext } from '../hv/context.js';
import { GUEST, getNested, guestWord, putNested, shadowPgdUnit, slotOfLpid, updatePtblCache } from '../hv/guests.js';
import { countFault } from '../hv/nested-fault.js';
import { L1Target, l1CountOut, l1PrepareEnter } from '../hv/l1-handler.js';
import { FaultScratch } from '../hv/scratch.js';
import { VcpuRegs } from '../hv/regs.js';
import { CpuStats } from './cpu-stats.js';
import { Tlb } from './tlb.js';
import { storeMismatch } from './store-checks.js';
import { vcpuCtl, vcpuTransition } from './shootdown.js';
import { current } from '../sync/turnstile.js';
import { ACCESS_STORE as STORE, NEED as NEED_BY_TYPE, Regime, TRANSLATE_EMULATED, Walker } from './walker.js';
import { makeL1Regime } from './l1-direct.js';
import { L2FaultHandler, type NestedVcpu } from './l2-exit.js';

/**
 * Module-local copies of the walker's access constants for the hit path: V8 checks an imported
 * binding on every use (it could still be uninitialised), and on a TLB hit that check costs: a
 * local copy measured 16.4 -> 15.8 ns per hit (node 20, one pinned core).
 */
const ACCESS_STORE = STORE;
const NEED: readonly number[] = [...NEED_BY_TYPE];
/** What L1's grant record must hold for an L2 store to complete (W and C). */
const STORE_GRANTS = GRANT_BITS;

/** Accesses between quiescence points (a waiting tlbie is held up at most this long). Power of two. */
export const QUIESCE_EVERY = 16;
/** Accesses between two `publish` calls (a multiple of QUIESCE_EVERY). */
export const PUBLISH_EVERY = 1024;
/** Slots of `Cpu.local`: the per-access counters kept on the vCPU's side. */
const LOCAL = { accesses: 0, loads: 1, stores: 2, fetches: 3, tlbHits: 4, tlbMisses: 5, writes: 6, l1Accesses: 7 } as const;
const LOCAL_COUNTS = 8;

export class Cpu implements NestedVcpu {
  readonly regs = new VcpuRegs();
  readonly stats = new CpuStats();
  readonly target = new L1Target();
  /** What this vCPU's faults fill in (passed down the fault path). */
  readonly scratch: FaultScratch;
  readonly tlb: Tlb;
  private readonly walker: Walker;
  /** L2's accesses: the guest's shadow table under its shadow lpid (set on entry). */
  private readonly l2: Regime;
  /** L1's own accesses: L0's table for L1 under L1's lpid. */
  private readonly l1: Regime;
  private readonly w: Int32Array;
  private readonly basePnShift: number;
  /** This vCPU's VCPU_CTL.state word. */
  readonly stateIdx: number;
  /** Whether this vCPU is in guest mode (mirrors VSTATE_IN_GUEST, which only it changes). */
  private inGuest = false;
  private readonly frameGenWord: number;
  private readonly frameWritesWord: number;
  private readonly hostDataBasePn: number;
  private readonly refs: boolean;
  /** Inside H_ENTER_NESTED (between a successful `enter` and `exit`). */
  private entered = false;
  /**
   * Called while this vCPU waits to re-enter its guest (L1 waits for the old incarnation of a
   * destroyed guest to empty): the vCPU loop joins stop-the-world audits from here.
   */
  onWait: (() => void) | undefined = undefined;
  /** Sharing its thread (engine/vcpu-thread.ts): run another of its vCPUs while waiting to re-enter; false if none could run. */
  runOther: (() => boolean) | undefined = undefined;
  /** Per-access counts not yet added to the shared counter block (see `publish`). */
  private readonly local = new Int32Array(LOCAL_COUNTS);
  /**
   * Accesses until the next one timed for the access-latency histogram (`stats.accessSample`):
   * a random gap of mean N drawn when a sample is taken (the hot path only counts down), so the
   * sample cannot alias with a periodic access pattern as a fixed stride of N would.
   */
  private sampleIn = 1;
  /** Timed faults so far (one in STAGE_SAMPLE_EVERY times its stages); all faults (one in MODELED_STAGE_SAMPLE records its modeled ones). */
  private timedFaults = 0;
  private faults = 0;
  /**
   * Which faults are timed is drawn from this generator (an LCG, state only), not every Nth
   * fault: a fixed stride aliases with periodic fault sequences (first touches alternate
   * reflected, hostInstantiate, so every 16th fault was always hostInstantiate and reflected
   * faults were never timed). Seeded by the vCPU number: a run's sample is repeatable.
   */
  private sampleState: number;
  /** A fault is timed when the generator's output (as uint32) is below this: probability 1/faultSample. */
  private readonly faultSampleBelow: number;
  /** Modeled cycles per access (cost.accessCycles; 0 without a cost model). */
  private readonly accessCycles: number;
  /** The modeled clock past which this vCPU next checks its lead over the slowest running vCPU (`clock.point`; Infinity without a cost model: the hit path's check never fires). */
  private skewLimit: number;
  /** This vCPU's modeled clock in shared memory and the skew bound (hw/clock.ts). */
  readonly clock: VcpuClock;
  /** The modeled clock when the fault in progress began. */
  private faultCyc0 = 0;

  constructor(
    readonly ctx: HvContext,
    /** L1's lpid for the nested guest this vCPU runs. */
    readonly l1Lpid: number,
  ) {
    const m = ctx.m;
    this.w = m.w;
    this.sampleState = (Math.imul(ctx.vcpu + 1, 0x9e3779b9) ^ 0x5bd1e995) | 0;
    this.faultSampleBelow = Math.floor(0x100000000 / (ctx.faultSampleMask + 1));
    this.tlb = new Tlb(m, ctx.vcpu);
    ctx.ownTlbDropped = () => this.tlb.ownDropped();
    this.walker = new Walker(ctx, this.tlb);
    this.scratch = new FaultScratch(m);
    this.l2 = new Regime(ctx.rcAuto, -1, COUNTER.walkHits, new L2FaultHandler(this));
    this.l1 = makeL1Regime(this);
    this.basePnShift = m.L.pageShift - 12;
    this.stateIdx = vcpuCtl(m, ctx.vcpu, VCPU_CTL.state);
    this.frameGenWord = m.L.frameGenWord;
    this.frameWritesWord = m.L.frameWritesWord;
    this.hostDataBasePn = m.L.hostDataBasePn;
    this.refs = !ctx.has(MUT['skip-refcount']);
    this.accessCycles = ctx.cost.item[COST.accessCycles];
    this.clock = new VcpuClock(ctx);
    this.skewLimit = this.clock.on ? 0 : Infinity;
  }

  // ---- entering and leaving L2 (H_ENTER_NESTED) ---------------------------------------------

  /**
   * H_ENTER_NESTED: get (or create) the nested guest with a reference held for the whole run,
   * load its partition-table cache if empty, and enter guest mode. False when the guest's slot
   * is still held by a removed predecessor (L1 retries later).
   */
  enter(): boolean {
    const ctx = this.ctx;
    const r = this.regs;
    const l1Slot = slotOfLpid(this.l1Lpid);
    // L1's side: count in; a guest L1 destroyed is recreated only once none of L1's vCPUs runs it.
    if (!l1PrepareEnter(ctx, l1Slot)) return false;
    let slot: number;
    if (this.refs || r.slot < 0) {
      slot = getNested(ctx, this.l1Lpid, true);
      if (slot < 0) {
        l1CountOut(ctx, l1Slot);
        return false;
      }
      if (!this.refs) putNested(ctx, slot); // M13: the run holds no reference
    } else slot = r.slot;
    this.entered = true;
    r.slot = slot;
    r.generation = this.w[guestWord(ctx, slot, GUEST.generation)];
    this.l2.pgdUnit = shadowPgdUnit(slot);
    this.l2.lpid = this.w[guestWord(ctx, slot, GUEST.shadowLpid)];
    this.l2.grantBase = grantBase(ctx.L, slot);
    if (this.w[guestWord(ctx, slot, GUEST.l1Root)] === 0) {
      ctx.tlbLock(slot);
      updatePtblCache(ctx, slot);
      ctx.tlbUnlock(slot);
    }
    this.enterGuestMode();
    return true;
  }

  /**
   * Leave guest mode (exit to L0 or L1): in-flight accesses are over. One atomic add clears
   * VSTATE_IN_GUEST and bumps the quiescence count (and wakes a waiting shootdown). Bumping the
   * count matters: a vCPU retrying faults re-enters within microseconds, and a shootdown that
   * woke later and saw it in guest mode with an unchanged word would keep waiting while the vCPU
   * keeps retrying because that shootdown's invalidation is still in progress.
   */
  leaveGuest(): void {
    if (!this.inGuest) return;
    this.inGuest = false;
    vcpuTransition(this.w, this.stateIdx, VSTATE_IN_GUEST);
    current?.point('guest-exit');
  }

  /** Enter (or re-enter) guest mode: accesses may run from here on. */
  enterGuestMode(): void {
    if (!this.inGuest) {
      current?.point('guest-entry');
      this.inGuest = true;
      vcpuTransition(this.w, this.stateIdx, VSTATE_IN_GUEST);
    }
    this.tlb.noteDone(); // after the transition (see hw/tlb.ts)
  }

  /** H_ENTER_NESTED returns to L1: drop the run's reference. */
  exit(): void {
    this.leaveGuest();
    this.publish();
    if (!this.entered) return;
    this.entered = false;
    if (this.refs && this.regs.slot >= 0) putNested(this.ctx, this.regs.slot);
    l1CountOut(this.ctx, slotOfLpid(this.l1Lpid));
  }

  /** Park at a safe point (audits, the end of a run, set aside by its thread): out of guest mode, counts and clock published (a stale clock would hold the other threads back). */
  park(): void {
    this.leaveGuest();
    this.publish();
    if (this.clock.on) this.clock.publish();
  }

  resume(): void {
    if (this.entered) this.enterGuestMode();
  }

  // ---- the access pipeline ---------------------------------------------------------------------

  /**
   * One access by L1 to its own 4 KiB page `gpaPn` (hw/l1-direct.ts), between two L2 accesses of
   * a run: the vCPU stays in guest mode (now L1's). Returns false if it ended without completing.
   */
  accessL1(gpaPn: number, type: number): boolean {
    this.local[LOCAL.l1Accesses]++;
    return this.access(gpaPn, type, this.l1);
  }

  /**
   * One access to 4 KiB page `pn` in regime `rg` (by default L2's, where `pn` is an L2 page).
   * Returns false if it ended in a DSI, an error or a livelock. This one function is the whole
   * hit path (a wrapper around it would be inlined into the vCPU loop and crowd its other callees
   * out of V8's inlining budget: measured, a bimodal 13-20M accesses/s on tlb-hit).
   */
  access(pn: number, type: number, rg: Regime = this.l2): boolean {
    const n = this.local;
    const k = ++n[LOCAL.accesses];
    n[LOCAL.loads + type]++; // loads, stores, fetches are consecutive
    const ctx = this.ctx;
    // Modeled time: the access's own work, then the skew bound (an access boundary, no lock held).
    if ((ctx.cyc += this.accessCycles) > this.skewLimit) this.skewLimit = this.clock.point(this);
    if ((k & (QUIESCE_EVERY - 1)) === 0) {
      vcpuTransition(this.w, this.stateIdx, VSTATE_QUIESCE);
      this.tlb.noteDone(); // after the generation bump (see hw/tlb.ts)
      if (this.skewLimit !== Infinity) this.clock.publish();
      if (k === PUBLISH_EVERY) this.publish();
    }
    const sample = --this.sampleIn === 0;
    const t0 = sample ? performance.now() : 0;
    const vpn = pn >>> this.basePnShift;
    const need = NEED[type];
    const tlb = this.tlb;
    const hit = tlb.probe(vpn, rg.lpid);
    let ok: boolean;
    if (hit >= 0) {
      const data = tlb.data(hit);
      if ((data & need) === need) {
        n[LOCAL.tlbHits]++;
        if (type === ACCESS_STORE) this.store(rg, data, tlb.gen(hit), vpn);
        ok = true;
      } else ok = this.miss(rg, pn, vpn, type, hit); // lacked a permission or R/C: refill that entry
    } else ok = this.miss(rg, pn, vpn, type, tlb.freeWay(vpn));
    if (sample) {
      this.stats.access.record((performance.now() - t0) * 1e6);
      this.sampleIn = this.nextSampleGap();
    }
    return ok;
  }

  /**
   * A TLB miss (the slow path, kept out of the hit path): the walker translates, taking and
   * handling storage interrupts, and fills entry `way` (-1: a victim). Returns whether the
   * access completed.
   */
  private miss(rg: Regime, pn: number, vpn: number, type: number, way: number): boolean {
    this.local[LOCAL.tlbMisses]++;
    const t = this.walker.translate(rg, pn, vpn, type, way);
    if (t < 0) return t === TRANSLATE_EMULATED;
    if (type === ACCESS_STORE) this.store(rg, this.tlb.data(t), this.tlb.gen(t), vpn);
    return true;
  }

  /**
   * Add this vCPU's per-access counts to its shared counter block and zero them. Called every
   * PUBLISH_EVERY accesses (so live progress lags by at most that many), when parking and on exit.
   */
  publish(): void {
    const n = this.local;
    const c = this.ctx.counters;
    const cb = this.ctx.counterBase;
    c[cb + COUNTER.accesses] += n[LOCAL.accesses];
    c[cb + COUNTER.loads] += n[LOCAL.loads];
    c[cb + COUNTER.stores] += n[LOCAL.stores];
    c[cb + COUNTER.fetches] += n[LOCAL.fetches];
    c[cb + COUNTER.tlbHits] += n[LOCAL.tlbHits];
    c[cb + COUNTER.tlbMisses] += n[LOCAL.tlbMisses];
    c[cb + COUNTER.writesCompleted] += n[LOCAL.writes];
    c[cb + COUNTER.l1Accesses] += n[LOCAL.l1Accesses];
    n.fill(0);
  }

  /**
   * A completed store to base page `vpn` of `rg` through a translation whose leaf had C: one
   * more write in the frame, checked against the generation cached at fill (I5) and, for L2,
   * against what L1 grants as of its last completed tlbie (I2 for W, I3 for C).
   */
  private store(rg: Regime, data: number, gen: number, vpn: number): void {
    const frame = ((data & PTE_RPN_MASK) - this.hostDataBasePn) >>> this.basePnShift;
    const now = Atomics.load(this.w, this.frameGenWord + frame);
    if (now !== gen) storeMismatch(this.ctx, rg.lpid, frame, gen, now);
    if (rg.grantBase >= 0) {
      const granted = Atomics.load(this.w, rg.grantBase + vpn);
      if ((granted & STORE_GRANTS) !== STORE_GRANTS) reportUngrantedStore(this.ctx.report, granted, this.l1Lpid, vpn * this.ctx.L.basePn, data);
    }
    Atomics.add(this.w, this.frameWritesWord + frame, 1);
    this.local[LOCAL.writes]++;
  }

  /** The next gap between timed accesses: uniform in 1..2N-1 (mean N), from the sampling generator. */
  private nextSampleGap(): number {
    const n = this.ctx.accessSampleMask + 1;
    if (n === 1) return 1;
    this.sampleState = (Math.imul(this.sampleState, 1664525) + 1013904223) | 0;
    return 1 + Math.floor(((this.sampleState >>> 0) / 0x100000000) * (2 * n - 1));
  }

  // ---- faults: one statistics path for both regimes --------------------------------------------

  /**
   * Start a fault: the vCPU leaves guest mode. Its latency is timed for one fault in
   * `stats.faultSample`, and its stages for one timed fault in STAGE_SAMPLE_EVERY. Returns the
   * start time, or -1 when untimed.
   */
  beginFault(): number {
    this.leaveGuest();
    const ctx = this.ctx;
    this.faultCyc0 = ctx.cyc;
    ctx.chargeItem(COST.exitCycles, COST_CAT.exit);
    this.sampleState = (Math.imul(this.sampleState, 1664525) + 1013904223) | 0;
    const timed = this.sampleState >>> 0 < this.faultSampleBelow;
    ctx.sampleStages = timed && (++this.timedFaults & (STAGE_SAMPLE_EVERY - 1)) === 0;
    ctx.sampleModeledStages = ctx.cost.on && (this.faults++ & (MODELED_STAGE_SAMPLE - 1)) === 0;
    return timed ? performance.now() : -1;
  }

  /** End a fault of `kind` started at `t0` (`beginFault`): count it exactly, record it if timed. */
  endFault(kind: number, t0: number): void {
    if (t0 >= 0) this.stats.byKind[kind].record((performance.now() - t0) * 1e6);
    const ctx = this.ctx;
    countFault(ctx, kind);
    if (ctx.cost.on) {
      this.stats.mByKind[kind].record((ctx.cyc - this.faultCyc0) / ctx.cost.cpuGHz);
      if (this.clock.on) this.clock.publish();
    }
  }

  // ---- modeled time: the skew bound (hw/clock.ts) -----------------------------------------

  /** Take part in the skew bound (true) or stop holding the others back (false). */
  setClockActive(on: boolean): void {
    this.clock.setActive(on);
    this.skewLimit = this.clock.on ? 0 : Infinity; // check at the next access (never without a bound)
  }

  /**
   * Whether the next access would wait on the skew bound (its own cycles and the clock's rounding
   * counted: when this says no, `clock.point` does not wait). A vCPU sharing its thread asks while
   * another of the thread trails it, which then runs first: two threads each sleeping for a vCPU
   * the other has set aside would never wake.
   */
  aheadOfBound(): boolean {
    const ctx = this.ctx;
    return ctx.cyc + this.accessCycles > this.skewLimit && this.clock.lead() + this.accessCycles + CLOCK_UNIT > ctx.cost.skewCycles;
  }

  /** Leave guest mode for a wait that must not hold shootdowns up; false if not in guest mode. */
  pauseGuest(): boolean {
    const was = this.inGuest;
    this.leaveGuest();
    return was;
  }

  /** Back into guest mode after `pauseGuest` returned true (if still inside H_ENTER_NESTED). */
  unpauseGuest(): void {
    if (this.entered) this.enterGuestMode();
  }

  /** Drop every entry of this vCPU's TLB (vCPU moved to another physical CPU). */
  flushLocalTlb(): void {
    this.tlb.flush();
    this.walker.flushPwc(); // the page-walk cache goes with it
  }
}
