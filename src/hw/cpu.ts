/**
 * One simulated L2 vCPU on its worker thread: the access pipeline of the processor (TLB lookup,
 * hardware walk of the shadow table, storage interrupts) and the exits it causes: into L0's
 * nested fault handler on this thread, and, on a reflection, into L1's handler (an L1 vCPU runs
 * its nested guest, so L1's handler runs on the same thread), then back into L2.
 *
 * Fast path (`access`): a probe of the private tag mirror and one mask compare, with no atomic
 * operation for a load; a store adds the frame-generation check (I5), L1's grant (I2/I3) and an
 * atomic add of the write. Every 16 accesses, one atomic add marks a quiescence point. Misses go
 * to `accessSlow` (hardware walk through a page-walk cache, fill, storage interrupt). Nothing
 * allocates per access. docs/performance.md explains each choice.
 */
import { performance } from 'node:perf_hooks';
import { CTRL, TLB_ENTRY_WORDS, VCPU_CTL, VSTATE_IN_GUEST, VSTATE_QUIESCE } from '../memory/layout.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PRESENT, PAGE_PTE, PAGE_READ, PAGE_WRITE, PTE_RPN_MASK } from '../mmu/pte.js';
import { pnCount } from '../mmu/geometry.js';
import { LeafRef, findLeaf } from '../mmu/tree.js';
import { COUNTER } from '../stats/counters.js';
import { Histogram } from '../stats/histogram.js';
import { INV, MUT, STAGE_SAMPLE_EVERY, type HvContext } from '../hv/context.js';
import { GUEST, getNestedGuest, guestWord, putNestedGuest, shadowPgdUnit, updatePtblCache } from '../hv/guests.js';
import { countFault, nestedPageFault } from '../hv/nested-fault.js';
import { L1Target, l1CountOut, l1HandleNestedFault, l1PrepareEnter } from '../hv/l1-handler.js';
import {
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_INST_STORAGE,
  DSISR_ISSTORE,
  DSISR_NOHPTE,
  DSISR_PROTFAULT,
  DSISR_SET_RC,
  FAULT_KIND,
  FAULT_KIND_NAMES,
  RESUME_GUEST,
  RESUME_HOST,
  SRR1_ISI_N_G_OR_CIP,
  VcpuRegs,
} from '../hv/regs.js';
import { TLB_DATA, TLB_GEN, TLB_INVALID, TLB_LPID, TLB_TAG, tlbBase, vcpuCtl, vcpuTransition } from './tlb.js';

export const ACCESS_LOAD = 0;
export const ACCESS_STORE = 1;
export const ACCESS_FETCH = 2;

/** Bits a TLB entry must hold for each access type to hit (R always; C for a store). */
const NEED = [
  PAGE_PRESENT | PAGE_READ | PAGE_ACCESSED,
  PAGE_PRESENT | PAGE_WRITE | PAGE_ACCESSED | PAGE_DIRTY,
  PAGE_PRESENT | PAGE_EXEC | PAGE_ACCESSED,
] as const;

/** Faults one access may take before the vCPU declares a livelock (liveness, M16). */
export const LIVELOCK_FAULTS = 64;
/**
 * Faults ending in RETRY (-EAGAIN: an invalidation ran or is running) do not count towards
 * LIVELOCK_FAULTS: they wait on progress made elsewhere, and a host migration of a 2 MiB block
 * or a descheduled invalidator keeps mmu_invalidate_in_progress raised for milliseconds, which is
 * thousands of retries and not a livelock (the kernel retries just the same). This far larger
 * bound still turns a hang into a reported violation.
 */
export const LIVELOCK_RETRIES = 1 << 20;
/** A PTE-level table maps 2 MiB (512 x 4 KiB or 32 x 64 KiB): its region in 4 KiB page numbers. */
const PWC_REGION_SHIFT = 9;
/** Way-predictor slots minus one (a power of two). */
const WAY_HINT_MASK = 1023;
/** Accesses between quiescence points (a waiting tlbie is held up at most this long). Power of two. */
export const QUIESCE_EVERY = 16;
/** Accesses between two `publish` calls (a multiple of QUIESCE_EVERY). */
export const PUBLISH_EVERY = 1024;
/** Slots of `Cpu.local`: the per-access counters kept on the vCPU's side. */
const LOCAL = { accesses: 0, loads: 1, stores: 2, fetches: 3, tlbHits: 4, tlbMisses: 5, writes: 6 } as const;
const LOCAL_COUNTS = 7;

/** Histograms a vCPU keeps (merged by the coordinator). */
export class CpuStats {
  readonly access = new Histogram();
  readonly byKind: Histogram[] = FAULT_KIND_NAMES.map(() => new Histogram());
}

export class Cpu {
  readonly regs = new VcpuRegs();
  readonly stats = new CpuStats();
  readonly target = new L1Target();
  private readonly w: Int32Array;
  private readonly tlb: number;
  private readonly setMask: number;
  private readonly ways: number;
  private readonly basePnShift: number;
  /** This vCPU's VCPU_CTL.state word. */
  private readonly stateIdx: number;
  /** Whether this vCPU is in guest mode (mirrors VSTATE_IN_GUEST, which only it changes). */
  private inGuest = false;
  private readonly epochIdx: number;
  private readonly frameGenWord: number;
  private readonly frameWritesWord: number;
  private readonly hostDataBasePn: number;
  /** First word of this vCPU's guest's L1 grant record (see l1Grant in hv/l1-handler.ts). */
  private grantBase = 0;
  private readonly walkRef = new LeafRef();
  private readonly autoRc: boolean;
  private readonly refs: boolean;
  private lpid = 0;
  /** Inside H_ENTER_NESTED (between a successful `enter` and `exit`). */
  private entered = false;
  /**
   * Called while this vCPU waits to re-enter its guest (L1 waits for the old incarnation of a
   * destroyed guest to empty): the vCPU loop joins stop-the-world audits from here.
   */
  onWait: (() => void) | undefined = undefined;
  private victim = 0;
  /** Page-walk cache (see `walk`): epoch, 2 MiB region, lpid and PTE table's first word. */
  private pwcEpoch = -1;
  private pwcRegion = -1;
  private pwcLpid = -1;
  private pwcTable = 0;
  /**
   * Private mirror of this vCPU's TLB tags (entry index = set * ways + way), so that a hit needs
   * no atomic operation. Only this vCPU fills its TLB (it writes both copies); other threads only
   * invalidate shared tags, and a broadcast bumps `tlbDone` after its drops and before it waits
   * for this vCPU. The vCPU reads `tlbDone` right after each quiescence point and on every guest
   * entry and, when it moved, re-syncs each set lazily (`setGen[set] !== mirrorGen`). So a
   * mirrored tag can be stale only between a drop and this vCPU's next quiescence point, while
   * the tlbie that dropped it is still waiting for that point: the stale hit belongs to an access
   * in flight before the tlbie completed, as on hardware.
   */
  private readonly tags: Int32Array;
  /** The lpid of each entry (only this vCPU writes it: an exact copy, never re-synced). */
  private readonly lpids: Int32Array;
  private readonly setGen: Int32Array;
  /** Way predictor: per slot (vpn & WAY_HINT_MASK), the entry index that last hit (a hint only). */
  private readonly wayHint = new Int32Array(WAY_HINT_MASK + 1);
  private mirrorGen = 0;
  private doneSeen = -1;
  private readonly doneIdx: number;
  /** Per-access counts not yet added to the shared counter block (see `publish`). */
  private readonly local = new Int32Array(LOCAL_COUNTS);
  /** Accesses until the next one timed for the access-latency histogram (`stats.accessSample`). */
  private sampleIn = 1;
  /** Timed faults so far; one in STAGE_SAMPLE_EVERY of them also times its stages. */
  private timedFaults = 0;
  private faultCount = 0;

  constructor(
    readonly ctx: HvContext,
    /** L1's lpid for the nested guest this vCPU runs. */
    readonly l1Lpid: number,
  ) {
    const m = ctx.m;
    this.w = m.w;
    this.tlb = tlbBase(m, ctx.vcpu);
    this.setMask = m.L.tlbSets - 1;
    this.ways = m.L.tlbWays;
    this.tags = new Int32Array(m.L.tlbSets * m.L.tlbWays).fill(TLB_INVALID);
    this.lpids = new Int32Array(m.L.tlbSets * m.L.tlbWays).fill(-1);
    this.setGen = new Int32Array(m.L.tlbSets).fill(-1);
    this.doneIdx = m.ctrl(CTRL.tlbDone);
    ctx.ownTlbDropped = () => {
      this.mirrorGen = (this.mirrorGen + 1) | 0;
    };
    this.basePnShift = m.L.pageShift - 12;
    this.stateIdx = vcpuCtl(m, ctx.vcpu, VCPU_CTL.state);
    this.epochIdx = m.ctrl(CTRL.tlbEpoch);
    this.frameGenWord = m.L.frameGenWord;
    this.frameWritesWord = m.L.frameWritesWord;
    this.hostDataBasePn = m.L.hostDataBasePn;
    this.autoRc = ctx.rcAuto;
    this.refs = !ctx.has(MUT['skip-refcount']);
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
    // L1's side: count in; a guest L1 destroyed is recreated only once none of L1's vCPUs runs it.
    if (!l1PrepareEnter(ctx, this.l1Lpid - 1)) return false;
    let slot: number;
    if (this.refs || r.slot < 0) {
      slot = getNestedGuest(ctx, this.l1Lpid, true);
      if (slot < 0) {
        l1CountOut(ctx, this.l1Lpid - 1);
        return false;
      }
      if (!this.refs) putNestedGuest(ctx, slot); // M13: the run holds no reference
    } else slot = r.slot;
    this.entered = true;
    r.slot = slot;
    this.grantBase = ctx.L.l1GrantWord + slot * ctx.L.guestPages;
    r.generation = this.w[guestWord(ctx, slot, GUEST.generation)]!;
    this.lpid = this.w[guestWord(ctx, slot, GUEST.shadowLpid)]!;
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
  private leaveGuest(): void {
    if (!this.inGuest) return;
    this.inGuest = false;
    vcpuTransition(this.w, this.stateIdx, VSTATE_IN_GUEST);
  }

  /** H_ENTER_NESTED returns to L1: drop the run's reference. */
  exit(): void {
    this.leaveGuest();
    this.publish();
    if (!this.entered) return;
    this.entered = false;
    if (this.refs && this.regs.slot >= 0) putNestedGuest(this.ctx, this.regs.slot);
    l1CountOut(this.ctx, this.l1Lpid - 1);
  }

  /** Park at a safe point (audits, the end of a run). */
  park(): void {
    this.leaveGuest();
    this.publish();
  }

  resume(): void {
    if (this.entered) this.enterGuestMode();
  }

  // ---- the access pipeline ---------------------------------------------------------------------

  /** One L2 access to 4 KiB page `l2Pn`. Returns false if it ended in a DSI/error/livelock. */
  access(l2Pn: number, type: number): boolean {
    const w = this.w;
    const n = this.local;
    const k = ++n[LOCAL.accesses]!;
    n[LOCAL.loads + type]++; // loads, stores, fetches are consecutive
    if ((k & (QUIESCE_EVERY - 1)) === 0) {
      vcpuTransition(w, this.stateIdx, VSTATE_QUIESCE);
      this.noteTlbDone(); // after the generation bump (see `tags`)
      if (k === PUBLISH_EVERY) this.publish();
    }
    const sample = --this.sampleIn === 0;
    const t0 = sample ? performance.now() : 0;
    const vpn = l2Pn >>> this.basePnShift;
    const lpid = this.lpid;
    const need = NEED[type]!;
    const hit = this.tlbProbe(vpn, lpid);
    let ok: boolean;
    if (hit >= 0) {
      const e = this.tlb + hit * TLB_ENTRY_WORDS;
      const data = w[e + TLB_DATA]!;
      if ((data & need) === need) {
        n[LOCAL.tlbHits]++;
        if (type === ACCESS_STORE) this.store(data, w[e + TLB_GEN]!, vpn);
        ok = true;
      } else ok = this.miss(l2Pn, vpn, type, hit); // lacked a permission or R/C: refill that entry
    } else ok = this.miss(l2Pn, vpn, type, this.freeWay(vpn & this.setMask));
    if (sample) {
      this.sampleIn = this.ctx.accessSampleMask + 1;
      this.stats.access.record((performance.now() - t0) * 1e6);
    }
    return ok;
  }

  // ---- the TLB for other translation regimes of this vCPU (L1's own accesses) ---------------

  /**
   * Probe this vCPU's TLB for (lpid, vpn) through the tag mirror: the entry index, or -1. An
   * entry's data and generation are `tlbData(t)` and `tlbGen(t)`.
   */
  tlbProbe(vpn: number, lpid: number): number {
    // Through the private mirror (see `tags`): no atomic operation on a hit.
    const set = vpn & this.setMask;
    if (this.setGen[set] !== this.mirrorGen) this.syncSet(set);
    const tags = this.tags;
    const lpids = this.lpids;
    // Way prediction: try the entry that last hit for this page's hint slot first, so that a
    // page in a random way does not cost a mispredicted loop exit; then probe the set.
    const hintSlot = vpn & WAY_HINT_MASK;
    const hint = this.wayHint[hintSlot]!;
    if (tags[hint] === vpn && lpids[hint] === lpid) return hint;
    for (let t = set * this.ways, end = t + this.ways; t < end; t++) {
      if (tags[t] === vpn && lpids[t] === lpid) {
        this.wayHint[hintSlot] = t;
        return t;
      }
    }
    return -1;
  }

  tlbData(t: number): number {
    return this.w[this.tlb + t * TLB_ENTRY_WORDS + TLB_DATA]!;
  }

  tlbGen(t: number): number {
    return this.w[this.tlb + t * TLB_ENTRY_WORDS + TLB_GEN]!;
  }

  /** Drop entry `t` (a fill that raced with an invalidation). */
  tlbDrop(t: number): void {
    Atomics.store(this.w, this.tlb + t * TLB_ENTRY_WORDS + TLB_TAG, TLB_INVALID);
    this.tags[t] = TLB_INVALID;
  }

  /** The set of base page `vpn`. */
  tlbSetOf(vpn: number): number {
    return vpn & this.setMask;
  }

  /** An access boundary outside `access` (one atomic add; a waiting tlbie may complete). */
  boundary(): void {
    vcpuTransition(this.w, this.stateIdx, VSTATE_QUIESCE);
    this.noteTlbDone();
  }

  /** Leave guest mode for a hypervisor exit that is not an L2 storage interrupt. */
  exitGuest(): void {
    this.leaveGuest();
  }

  /** Return to guest mode after `exitGuest`. */
  returnToGuest(): void {
    this.enterGuestMode();
  }

  /** The first invalid entry of set `set` in the mirror, or -1 (evict round-robin). */
  freeWay(set: number): number {
    for (let t = set * this.ways, end = t + this.ways; t < end; t++) if (this.tags[t] === TLB_INVALID) return t;
    return -1;
  }

  private miss(l2Pn: number, vpn: number, type: number, way: number): boolean {
    this.local[LOCAL.tlbMisses]++;
    return this.accessSlow(l2Pn, vpn, type, way);
  }

  /** Refresh the private tag mirror of TLB set `set` from shared memory (atomic loads: other threads invalidate tags). */
  private syncSet(set: number): void {
    const w = this.w;
    const tags = this.tags;
    for (let t = set * this.ways, end = t + this.ways; t < end; t++) tags[t] = Atomics.load(w, this.tlb + t * TLB_ENTRY_WORDS + TLB_TAG);
    this.setGen[set] = this.mirrorGen;
  }

  /**
   * After passing a quiescence point or entering guest mode: if any broadcast invalidation has
   * finished dropping entries since we last looked (`tlbDone`), every set of the mirror must be
   * synced again before its next probe.
   */
  private noteTlbDone(): void {
    const d = Atomics.load(this.w, this.doneIdx);
    if (d !== this.doneSeen) {
      this.doneSeen = d;
      this.mirrorGen = (this.mirrorGen + 1) | 0;
    }
  }

  /** Enter (or re-enter) guest mode: accesses may run from here on. */
  private enterGuestMode(): void {
    if (!this.inGuest) {
      this.inGuest = true;
      vcpuTransition(this.w, this.stateIdx, VSTATE_IN_GUEST);
    }
    this.noteTlbDone(); // after the transition (see `tags`)
  }

  /**
   * Add this vCPU's per-access counts to its shared counter block and zero them. Called every
   * PUBLISH_EVERY accesses (so live progress lags by at most that many), when parking and on exit.
   */
  publish(): void {
    const n = this.local;
    const c = this.ctx.counters;
    const cb = this.ctx.counterBase;
    c[cb + COUNTER.accesses] += n[LOCAL.accesses]!;
    c[cb + COUNTER.loads] += n[LOCAL.loads]!;
    c[cb + COUNTER.stores] += n[LOCAL.stores]!;
    c[cb + COUNTER.fetches] += n[LOCAL.fetches]!;
    c[cb + COUNTER.tlbHits] += n[LOCAL.tlbHits]!;
    c[cb + COUNTER.tlbMisses] += n[LOCAL.tlbMisses]!;
    c[cb + COUNTER.writesCompleted] += n[LOCAL.writes]!;
    n.fill(0);
  }

  /**
   * A completed store to L2 base page `vpn`: one more write in the frame, checked against the
   * generation cached at fill (I5) and against what L1 grants as of its last completed tlbie
   * (I2 for W, I3 for C).
   */
  private store(data: number, gen: number, vpn: number): void {
    const frame = ((data & PTE_RPN_MASK) - this.hostDataBasePn) >>> this.basePnShift;
    if (Atomics.load(this.w, this.frameGenWord + frame) !== gen) {
      // The frame was retired (migrated or swapped) after this translation was cached: the store
      // lands in memory that no longer backs its page (I5).
      this.ctx.violation(INV['I5-no-lost-write'], this.lpid, frame, gen, Atomics.load(this.w, this.frameGenWord + frame));
    }
    const granted = Atomics.load(this.w, this.grantBase + vpn);
    if ((granted & (PAGE_WRITE | PAGE_DIRTY)) !== (PAGE_WRITE | PAGE_DIRTY)) {
      // L1 took W (or C) away and its tlbie has completed, yet the store went through.
      const l1Lpid = this.l1Lpid;
      if ((granted & PAGE_WRITE) === 0) this.ctx.violation(INV['I2-permissions'], l1Lpid, vpn * this.ctx.L.basePn, data, granted, 5);
      else this.ctx.violation(INV['I3-dirty-chain'], l1Lpid, vpn * this.ctx.L.basePn, data, granted, -5);
    }
    Atomics.add(this.w, this.frameWritesWord + frame, 1);
    this.local[LOCAL.writes]++;
  }

  /**
   * Hardware walk of the shadow table; on a storage interrupt, exit and handle it; retry.
   * `way`: the TLB entry to fill (index into the set-major entry array, see `access`), -1 to
   * pick a victim.
   */
  private accessSlow(l2Pn: number, vpn: number, type: number, way: number): boolean {
    const ctx = this.ctx;
    const w = this.w;
    const r = this.regs;
    for (let faults = 0, retries = 0; ; ) {
      const e0 = Atomics.load(w, this.epochIdx);
      const ref = this.walkRef;
      const i = this.walk(l2Pn, e0, ref);
      let dsisr = type === ACCESS_STORE ? DSISR_ISSTORE : 0;
      if (i >= 0) {
        let leaf = Atomics.load(w, i);
        const permOk =
          type === ACCESS_STORE ? (leaf & PAGE_WRITE) !== 0 : type === ACCESS_FETCH ? (leaf & PAGE_EXEC) !== 0 : (leaf & PAGE_READ) !== 0;
        if (!permOk) dsisr |= type === ACCESS_FETCH ? SRR1_ISI_N_G_OR_CIP : DSISR_PROTFAULT;
        else {
          const rc = PAGE_ACCESSED | (type === ACCESS_STORE ? PAGE_DIRTY : 0);
          if ((leaf & rc) !== rc) {
            if (this.autoRc) {
              Atomics.or(w, i, rc); // experiment: hardware sets R/C itself (loses dirty pages)
              leaf |= rc;
            } else dsisr |= DSISR_SET_RC;
          }
        }
        if ((dsisr & ~DSISR_ISSTORE) === 0) {
          // Translation OK: fill the TLB with this base page's slice of the leaf.
          const leafPn = l2Pn - (l2Pn & (pnCount(ref.shift) - 1));
          const rpn = (leaf & PTE_RPN_MASK) + ((l2Pn - leafPn) & ~(pnCount(this.ctx.g.pageShift) - 1));
          const data = (leaf & ~PTE_RPN_MASK) | rpn;
          const frame = (rpn - this.hostDataBasePn) >>> this.basePnShift;
          const gen = Atomics.load(w, this.frameGenWord + frame);
          way = this.fill(vpn, data, gen, way);
          if (Atomics.load(w, this.epochIdx) !== e0) {
            // An invalidation ran while we walked: the entry may be stale. Drop it and re-walk.
            Atomics.store(w, this.tlb + way * TLB_ENTRY_WORDS + TLB_TAG, TLB_INVALID);
            this.tags[way] = TLB_INVALID;
            continue;
          }
          ctx.counters[ctx.counterBase + COUNTER.walkHits]++;
          if (type === ACCESS_STORE) this.store(data, gen, vpn);
          return true;
        }
      } else dsisr |= DSISR_NOHPTE;
      if (++faults > LIVELOCK_FAULTS || retries > LIVELOCK_RETRIES) {
        ctx.violation(INV.liveness, this.lpid, l2Pn, dsisr);
        return false;
      }
      const res = this.storageInterrupt(l2Pn, type, dsisr);
      if (res !== 0) return res > 0;
      if (r.kind === FAULT_KIND.retried) {
        faults--; // waiting on an invalidation, not a livelock (see LIVELOCK_RETRIES)
        retries++;
      }
    }
  }

  /**
   * The hardware walk of the shadow table for `l2Pn`, through the page-walk cache: the PTE-level
   * table that served the last walk's 2 MiB region (POWER9 caches directory entries the same
   * way). The cached pointer is used only while the invalidation epoch `e0` equals the one it
   * was cached under: every page-table free is preceded by a page-walk-cache flush (tlbie with
   * RIC 1 or 2, or the whole-lpid flush), and every flush bumps the epoch. A hit reads one leaf
   * word instead of four levels. Returns the leaf's word index or -1 (`ref` as `findLeaf`).
   */
  private walk(l2Pn: number, e0: number, ref: LeafRef): number {
    const w = this.w;
    const g = this.ctx.g;
    const region = l2Pn >>> PWC_REGION_SHIFT;
    if (this.pwcEpoch === e0 && this.pwcRegion === region && this.pwcLpid === this.lpid) {
      const idx = this.pwcTable + ((l2Pn >>> g.pnShift[0]) & ((1 << g.bits[0]) - 1));
      ref.word = idx;
      ref.level = 0;
      ref.shift = g.pageShift;
      const e = Atomics.load(w, idx);
      return e < 0 && (e & PAGE_PTE) !== 0 ? idx : -1;
    }
    const i = findLeaf(w, this.ctx.m.hostSpace, shadowPgdUnit(this.regs.slot), l2Pn, g, ref);
    if (ref.level === 0) {
      this.pwcEpoch = e0;
      this.pwcRegion = region;
      this.pwcLpid = this.lpid;
      this.pwcTable = ref.word - ((l2Pn >>> g.pnShift[0]) & ((1 << g.bits[0]) - 1));
    }
    return i;
  }

  /**
   * Write a TLB entry for `vpn` into `way` (the entry `access` chose while probing; -1: evict
   * round-robin). Only this vCPU fills its TLB and it fills once per miss, so the set holds no
   * other entry for `vpn`; other threads only invalidate, which can only turn a chosen way
   * invalid. Returns the entry's index.
   */
  fill(vpn: number, data: number, gen: number, way: number, lpid = this.lpid): number {
    const w = this.w;
    let t = way;
    if (t < 0) {
      t = (vpn & this.setMask) * this.ways + this.victim;
      this.victim = (this.victim + 1) & (this.ways - 1);
    }
    const e = this.tlb + t * TLB_ENTRY_WORDS;
    this.tags[t] = vpn;
    this.lpids[t] = lpid;
    // Only this vCPU hits in its TLB; other threads only invalidate by tag. A racing invalidator
    // that misses the half-written entry is caught by the epoch re-check after the fill. The lpid
    // is stored atomically because invalidators read it to match entries; data and generation
    // are read only by this vCPU and by audits (after a barrier).
    Atomics.store(w, e + TLB_LPID, lpid);
    w[e + TLB_DATA] = data;
    w[e + TLB_GEN] = gen;
    Atomics.store(w, e + TLB_TAG, vpn);
    return t;
  }

  /**
   * An HDSI/HISI from L2: exit to L0, run the nested fault handler, act on its outcome.
   * Returns 0 to retry the access, 1 when the access completed (MMIO emulated), -1 when it
   * ended without completing (DSI into L2, unfixable fault).
   */
  private storageInterrupt(l2Pn: number, type: number, dsisr: number): number {
    const ctx = this.ctx;
    const r = this.regs;
    this.leaveGuest();
    r.trap = type === ACCESS_FETCH ? BOOK3S_INTERRUPT_H_INST_STORAGE : BOOK3S_INTERRUPT_H_DATA_STORAGE;
    r.faultDar = l2Pn * 4096;
    r.faultGpa = l2Pn * 4096;
    r.faultDsisr = dsisr;
    r.srr1 = type === ACCESS_FETCH ? dsisr : 0;
    r.dsiPending = false;
    r.mmioPending = false;
    // Statistics: the fault is counted exactly (countFault); its latency is timed for one fault
    // in `stats.faultSample`, and its stages for one timed fault in STAGE_SAMPLE_EVERY.
    const timed = (++this.faultCount & ctx.faultSampleMask) === 0;
    ctx.sampleStages = timed && (++this.timedFaults & (STAGE_SAMPLE_EVERY - 1)) === 0;
    const t0 = timed ? performance.now() : 0;
    const res = nestedPageFault(ctx, r);
    const kind = r.kind;
    if (timed) this.stats.byKind[kind]!.record((performance.now() - t0) * 1e6);
    countFault(ctx, kind);
    if (res === RESUME_GUEST) {
      this.enterGuestMode();
      return r.dsiPending ? -1 : 0; // -1: L2 takes a DSI at the address; the access does not complete
    }
    // RESUME_HOST or an error: H_ENTER_NESTED returns to L1.
    this.exit();
    let out = 0;
    if (res === RESUME_HOST && r.mmioPending) {
      out = 1; // H_TOO_HARD: L1 emulates the MMIO access; it completes
    } else if (res === RESUME_HOST) {
      const fixed = l1HandleNestedFault(ctx, r.slot, l2Pn, r.faultDsisr, this.target);
      if (!fixed) out = -1;
    } else {
      out = -1; // an error: L1 sees the trap with the original DSISR and gives up on it
    }
    // L1 re-enters L2.
    while (!this.enter()) {
      // The guest was destroyed and its old incarnation still runs elsewhere (L1 waits), or its
      // slot is held by a removed predecessor (L0 waits for its last reference).
      this.onWait?.();
      Atomics.wait(this.w, this.stateIdx, Atomics.load(this.w, this.stateIdx), 1);
    }
    return out;
  }

  /** Drop every entry of this vCPU's TLB (vCPU moved to another physical CPU, §5.9). */
  flushLocalTlb(): void {
    const n = this.ctx.m.L.tlbSets * this.ways;
    for (let k = 0; k < n; k++) Atomics.store(this.w, this.tlb + k * TLB_ENTRY_WORDS + TLB_TAG, TLB_INVALID);
    this.tags.fill(TLB_INVALID);
    this.pwcEpoch = -1; // the page-walk cache goes with it
  }
}

export { RESUME_HOST, PAGE_PTE };
